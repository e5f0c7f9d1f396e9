import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deliverBatch } from '../core/sends/worker.ts';
import type { WorkerDeps } from '../core/sends/deps.ts';
import { parseBatchMessage } from '../core/sends/model.ts';
import { deploymentLimits } from '../../infra/limits.ts';
import { withCorrelation } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/**
 * The consumer of the send queue (SQS event source with ReportBatchItemFailures; locally the in-process
 * queue). Each message is one batch of one send; the batches of this instance share its limiter and call
 * slots. A batch that ran short of time hands its rest on in a new message and is acknowledged; only a
 * batch with a real failure is reported as failed, so the queue redelivers it (the recipients already
 * handled are not sent again).
 */
export function createSendWorkerHandler(deps: WorkerDeps | (() => Promise<WorkerDeps>), options: { messagesAtOnce?: number } = {}) {
  const atOnce = Math.max(1, options.messagesAtOnce ?? 2);
  return async (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const log = resolved.log ?? console.error;
    const failures: SQSBatchItemFailure[] = [];
    // A few messages at a time (the limits' messagesAtOnce): each batch's recipients already run side by
    // side, and a batch finished early is counted early (progress moves batch by batch).
    let next = 0;
    const one = async (): Promise<void> => {
      for (let i = next++; i < event.Records.length; i = next++) {
        const record = event.Records[i]!;
        const msg = parseBatchMessage(record.body);
        if (!msg) {
          // Redelivering a message we cannot read would only fill the dead-letter queue later.
          log('send worker: dropping a message that is not a batch', record.body.slice(0, 200));
          continue;
        }
        // Every line logged for this batch names its send, batch and message (JSON keys in AWS).
        await withCorrelation({ send_id: msg.sendId, batch_id: msg.batchId, message_id: record.messageId }, async () => {
          try {
            const result = await deliverBatch(resolved, msg, { remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined });
            if (result === 'retry') failures.push({ itemIdentifier: record.messageId });
          } catch (e) {
            log(`send ${msg.sendId}: batch ${msg.batchId} failed; it will be redelivered`, e);
            failures.push({ itemIdentifier: record.messageId });
          }
        });
      }
    };
    await Promise.all(Array.from({ length: atOnce }, one));
    return { batchItemFailures: failures };
  };
}

/** Lambda entry point (AWS composition in ./aws/sends.ts). */
export const handler = lambdaEntry(
  'sendWorker',
  createSendWorkerHandler(async () => (await import('./aws/sends.ts')).awsDeliveryDeps(), {
    messagesAtOnce: deploymentLimits(Number(process.env.SES_MAX_SEND_RATE ?? 1)).sendWorker.messagesAtOnce,
  }),
);
