import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseJobMessage, runExportJob, type ExportRunDeps } from '../core/subscribers/jobs.ts';
import { withCorrelation } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/**
 * The jobs function: the consumer of the jobs queue (SQS with ReportBatchItemFailures; locally the
 * in-process queue). Each message is one export job. A message delivered again while its job runs, or
 * after it ended, does nothing.
 */
export function createSubscriberJobsHandler(deps: ExportRunDeps | (() => Promise<ExportRunDeps>)) {
  return async (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const log = resolved.log ?? console.error;
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      const msg = parseJobMessage(record.body);
      if (!msg) {
        log('jobs: dropping a message that is not a job', record.body.slice(0, 200));
        continue;
      }
      await withCorrelation({ job_id: msg.jobId, message_id: record.messageId }, async () => {
        try {
          await runExportJob(resolved, msg.jobId, { remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined });
        } catch (e) {
          log(`export ${msg.jobId} failed`, e);
          failures.push({ itemIdentifier: record.messageId });
        }
      });
    }
    return { batchItemFailures: failures };
  };
}

/** Lambda entry point (AWS composition in ./aws/jobs.ts). */
export const handler = lambdaEntry(
  'subscriberJobs',
  createSubscriberJobsHandler(async () => (await import('./aws/jobs.ts')).awsExportRunDeps()),
);
