import type { Context, S3Event } from 'aws-lambda';
import { runUploadedImport, type ImportRunDeps } from '../core/subscribers/jobs.ts';
import { withCorrelation } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/**
 * The import function: S3 `ObjectCreated` notifications for `imports/` in the jobs bucket (locally, the
 * upload route calls it with the same event shape). Each notification runs that file's import job;
 * notifications come at least once, and a repeated one does nothing.
 */
export function createSubscriberImportHandler(deps: ImportRunDeps | (() => Promise<ImportRunDeps>)) {
  return async (event: S3Event, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<void> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    let failure: unknown;
    for (const record of event.Records ?? []) {
      if (!record.eventName?.startsWith('ObjectCreated:')) continue;
      // S3 URL-encodes keys in notifications, with spaces as `+`.
      const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
      await withCorrelation({ upload_key: key }, async () => {
        try {
          await runUploadedImport(
            resolved,
            { key, size: record.s3.object.size },
            { remainingMs: context ? () => context.getRemainingTimeInMillis() : undefined },
          );
        } catch (e) {
          (resolved.log ?? console.error)(`import of ${key} failed`, e);
          failure ??= e;
        }
      });
    }
    if (failure) throw failure;
  };
}

/** Lambda entry point (AWS composition in ./aws/jobs-import.ts). */
export const handler = lambdaEntry(
  'subscriberImport',
  createSubscriberImportHandler(async () => (await import('./aws/jobs-import.ts')).awsImportRunDeps()),
);
