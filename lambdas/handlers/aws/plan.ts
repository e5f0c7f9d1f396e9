import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { systemClock } from '../../core/clock.ts';
import type { SendDeps } from '../../core/sends/deps.ts';
import type { DeadLetterDeps } from '../../core/sends/dead-letter.ts';
import { deliverySettingsFrom } from '../../core/sends/settings.ts';
import { DynamoSendRepository } from '../../adapters/dynamodb/send-repository.ts';
import { DynamoAudience } from '../../adapters/dynamodb/audience.ts';
import { SqsSendQueue } from '../../adapters/sqs/sqs-send-queue.ts';
import { S3DocumentStore } from '../../adapters/s3/s3-document-store.ts';
import { articleRepository, awsEnv, dynamo, once, required, site } from './env.ts';

/** Planning, the API's bookkeeping and the digest schedule: no mailer, no renderer (small bundles). */
export const awsPlanDeps = once((): SendDeps => {
  const env = awsEnv();
  return {
    sends: new DynamoSendRepository(dynamo(), env.TABLE_NAME),
    audience: new DynamoAudience(dynamo(), env.TABLE_NAME),
    queue: new SqsSendQueue(new SQSClient({}), required('SEND_QUEUE_URL')),
    articles: articleRepository(),
    feed: articleRepository(),
    clock: systemClock,
    site: site(),
    settings: deliverySettingsFrom(env),
    store: new S3DocumentStore(new S3Client({}), required('FEED_BUCKET')),
    log: (m, d) => console.error(m, d),
  };
});

/** The send dead-letter queue's consumer: the table only (no queue, bucket or mailer, nor their variables). */
export const awsDeadLetterDeps = once(
  (): DeadLetterDeps => ({ sends: new DynamoSendRepository(dynamo(), awsEnv().TABLE_NAME), clock: systemClock, log: (m, d) => (d === undefined ? console.error(m) : console.error(m, d)) }),
);
