import { SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { SESClient } from '@aws-sdk/client-ses';
import { deploymentLimits } from '../../../infra/limits.ts';
import type { SendDeps } from '../../core/sends/deps.ts';
import type { DeadLetterDeps } from '../../core/sends/dead-letter.ts';
import { deadLetterDeps, planningDeps, type SendingBase } from '../../compose/sending.ts';
import { SqsSendQueue } from '../../adapters/sqs/sqs-send-queue.ts';
import { S3DocumentStore } from '../../adapters/s3/s3-document-store.ts';
import { SesMailer } from '../../adapters/ses/ses-mailer.ts';
import { awsEnv, dynamo, once, required, site } from './env.ts';
import { awsLog as log, traced } from './observability.ts';

/** The deployment's limits, from the SES rate the stack passes (the same module built the stack). */
export const awsLimits = once(() => deploymentLimits(required('SES_MAX_SEND_RATE')));

/** What every sending role of this function shares. */
export const sendingBase = once((): SendingBase => ({ db: dynamo(), table: awsEnv().TABLE_NAME, limits: awsLimits(), env: awsEnv(), site: site(), log }));

/** Planning (with the account's 24-hour quota), the API's bookkeeping and the digest schedule: no renderer. */
export const awsPlanDeps = once(
  (): SendDeps =>
    planningDeps({
      ...sendingBase(),
      queue: new SqsSendQueue(traced(new SQSClient({})), required('SEND_QUEUE_URL')),
      store: awsEnv().FEED_BUCKET ? new S3DocumentStore(traced(new S3Client({})), required('FEED_BUCKET')) : undefined,
      quota: new SesMailer({ client: traced(new SESClient({})) }),
    }),
);

/** The digest schedule's function only creates a Send item: no queue, bucket or mailer. */
export const awsDigestDeps = once(
  (): SendDeps =>
    planningDeps({
      ...sendingBase(),
      queue: {
        enqueue: async () => {
          throw new Error('the digest function queues nothing');
        },
      },
    }),
);

/** The send dead-letter queue's consumer: the table only (no queue, bucket or mailer, nor their variables). */
export const awsDeadLetterDeps = once((): DeadLetterDeps => deadLetterDeps({ db: dynamo(), table: awsEnv().TABLE_NAME, log }));
