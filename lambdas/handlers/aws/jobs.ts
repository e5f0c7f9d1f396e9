import { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { systemClock } from '../../core/clock.ts';
import type { ExportRunDeps, SubscriberJobDeps } from '../../core/subscribers/jobs.ts';
import { DynamoSubscriberJobRepository } from '../../adapters/dynamodb/subscriber-job-repository.ts';
import { DynamoSubscriberRepository } from '../../adapters/dynamodb/subscriber-repository.ts';
import { S3UploadStore } from '../../adapters/s3/upload-store.ts';
import { SqsJobQueue } from '../../adapters/sqs/sqs-job-queue.ts';
import { parseEnv } from '../../config.ts';
import { awsEnv, dynamo, once } from './env.ts';
import { awsLog as log, traced } from './observability.ts';

/**
 * Subscriber import and export jobs in AWS: job records in the table, files in the private jobs bucket,
 * export work on the jobs queue. Each variable is given only to the functions that use it: JOBS_BUCKET to
 * the API and both job functions, JOBS_QUEUE_URL to the API.
 */
const JobsEnvSchema = z.object({
  JOBS_BUCKET: z.string().min(1, 'must name the jobs bucket'),
  JOBS_QUEUE_URL: z.string().url().optional(),
});

const jobsEnv = once(() => parseEnv(JobsEnvSchema, process.env));

/** What every job-aware function shares: records, files, settings. */
export const awsJobBase = once(
  (): Omit<SubscriberJobDeps, 'queue'> => ({
    jobs: new DynamoSubscriberJobRepository(dynamo(), awsEnv().TABLE_NAME),
    uploads: new S3UploadStore(jobsEnv().JOBS_BUCKET, { log }),
    clock: systemClock,
    maxImportBytes: awsEnv().MAX_IMPORT_BYTES,
    log,
  }),
);

/** The API's: creates jobs, signs upload and download URLs, queues exports. */
export const awsJobApiDeps = once((): SubscriberJobDeps => {
  const queueUrl = jobsEnv().JOBS_QUEUE_URL;
  if (!queueUrl) throw new Error('environment variable JOBS_QUEUE_URL is required by this function');
  return { ...awsJobBase(), queue: new SqsJobQueue(traced(new SQSClient({})), queueUrl) };
});

/** The jobs function's: writes exports (no mail, no HTTP stack). */
export const awsExportRunDeps = once(
  (): ExportRunDeps => ({
    ...awsJobBase(),
    subscribers: new DynamoSubscriberRepository(dynamo(), awsEnv().TABLE_NAME),
  }),
);
