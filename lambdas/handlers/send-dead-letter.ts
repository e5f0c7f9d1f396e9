import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { settleGivenUpBatch, type DeadLetterDeps } from '../core/sends/dead-letter.ts';
import { parseBatchMessage } from '../core/sends/model.ts';
import { deploymentLimits } from '../../infra/limits.ts';
import { withCorrelation } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/**
 * Receives after which the send queue gives a batch up: the send queue's `maxReceiveCount` in the
 * deployment limits (it does not depend on the SES rate), as the stack and the in-process queue have it.
 */
export const SEND_MAX_RECEIVES = deploymentLimits(1).sendWorker.maxReceiveCount;

/**
 * The consumer of the send dead-letter queue (SQS event source with ReportBatchItemFailures; locally the
 * in-process queue's `onDeadLetter` hook). Each message is a batch the send worker gave up on: its
 * recipients are reported `failed` (never claimed, or claim given back) or `uncertain` (a call in flight)
 * and the batch is counted, so its send completes. A message that could not be settled is reported as
 * failed and stays in the dead-letter queue, to be tried again.
 */
export function createSendDeadLetterHandler(deps: DeadLetterDeps | (() => Promise<DeadLetterDeps>), options: { maxReceives?: number } = {}) {
  const attempts = options.maxReceives ?? SEND_MAX_RECEIVES;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const log = resolved.log ?? console.error;
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      const msg = parseBatchMessage(record.body);
      if (!msg) {
        // The worker drops such a message before it could reach this queue: it is not ours. Logged whole.
        log('send dead letter: dropping a message that is not a batch', record.body.slice(0, 4000));
        continue;
      }
      await withCorrelation({ send_id: msg.sendId, batch_id: msg.batchId, message_id: record.messageId }, async () => {
        try {
          const outcome = await settleGivenUpBatch(resolved, msg, attempts);
          log(
            `send ${msg.sendId}: batch ${msg.batchId} (generation ${msg.generation}, ${msg.recipients.length} recipients) was given up after ${attempts} attempts: ${outcome}`,
          );
        } catch (e) {
          log(`send ${msg.sendId}: given-up batch ${msg.batchId} could not be settled; it stays in the dead-letter queue`, e);
          failures.push({ itemIdentifier: record.messageId });
        }
      });
    }
    return { batchItemFailures: failures };
  };
}

/** Lambda entry point (AWS composition in ./aws/plan.ts). */
export const handler = lambdaEntry(
  'sendDeadLetter',
  createSendDeadLetterHandler(async () => (await import('./aws/plan.ts')).awsDeadLetterDeps()),
);
