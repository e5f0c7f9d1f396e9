import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deliverBatch } from '../core/sends/worker.ts';
import type { DeliveryDeps } from '../core/sends/deps.ts';
import { parseBatchMessage } from '../core/sends/model.ts';

/**
 * The consumer of the send queue (SQS event source with ReportBatchItemFailures; locally the in-process
 * queue). Each message is one batch of one send; the messages of an event are delivered side by side,
 * sharing this process's rate limiter. A batch with recipients left to try is reported as failed so the
 * queue redelivers it; the recipients already handled are not sent again.
 */
export function createSendWorkerHandler(deps: DeliveryDeps | (() => Promise<DeliveryDeps>)) {
  return async (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const log = resolved.log ?? console.error;
    const failures: SQSBatchItemFailure[] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        const msg = parseBatchMessage(record.body);
        if (!msg) {
          // Redelivering a message we cannot read would only fill the dead-letter queue later.
          log('send worker: dropping a message that is not a batch', record.body.slice(0, 200));
          return;
        }
        try {
          const result = await deliverBatch(resolved, msg, { remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined });
          if (result === 'retry') failures.push({ itemIdentifier: record.messageId });
        } catch (e) {
          log(`send ${msg.sendId}: batch ${msg.batchId} failed; it will be redelivered`, e);
          failures.push({ itemIdentifier: record.messageId });
        }
      }),
    );
    return { batchItemFailures: failures };
  };
}
