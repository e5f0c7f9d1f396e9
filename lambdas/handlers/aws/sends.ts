import { SESClient } from '@aws-sdk/client-ses';
import { SQSClient } from '@aws-sdk/client-sqs';
import { confirmationLink, subscriberLinks } from '../../core/subscribers/links.ts';
import type { DeliveryDeps } from '../../core/sends/deps.ts';
import { mailSettingsFrom } from '../../core/sends/settings.ts';
import { deliveryDeps, planningDeps } from '../../compose/sending.ts';
import { meteredMailer } from '../../compose/observability.ts';
import { SesMailer } from '../../adapters/ses/ses-mailer.ts';
import { SqsSendQueue } from '../../adapters/sqs/sqs-send-queue.ts';
import { awsMailParts } from './mail.ts';
import { awsLimits, sendingBase } from './plan.ts';
import { awsEnv, site } from './env.ts';
import { awsMetrics, traced } from './observability.ts';

let delivery: Promise<DeliveryDeps> | undefined;
/**
 * Sending: the worker (which hands unfinished work on to the send queue) and the API's preview and test
 * sends (which queue nothing). One per Lambda execution environment.
 */
export function awsDeliveryDeps(): Promise<DeliveryDeps> {
  return (delivery ??= (async () => {
    const env = awsEnv();
    const parts = await awsMailParts();
    // One SDK attempt, with a request timeout inside the worker's reserve: a throttle reaches the pacing at
    // once, and a timed-out call is never re-sent blindly. Each call's outcome is counted (EmailsSubmitted,
    // EmailsThrottled, EmailsFailed).
    const ses = traced(new SESClient({ maxAttempts: 1, requestHandler: { requestTimeout: awsLimits().sendWorker.sesRequestTimeoutSeconds * 1000 } }));
    const mailer = meteredMailer(new SesMailer({ client: ses }), awsMetrics());
    const queueUrl = env.SEND_QUEUE_URL;
    const base = sendingBase();
    return deliveryDeps({
      ...base,
      planning: planningDeps({
        ...base,
        queue: queueUrl
          ? new SqsSendQueue(traced(new SQSClient({})), queueUrl)
          : {
              enqueue: async () => {
                throw new Error('this function queues no batches');
              },
            },
      }),
      mailing: {
        mailer,
        renderer: parts.emails,
        links: (id) => subscriberLinks(site(), parts.signer, id, new Date(), env.UNSUBSCRIBE_MAILBOX),
        confirmLinks: (id) => confirmationLink(site(), parts.signer, id, new Date()),
        mail: mailSettingsFrom(env, site()),
      },
    });
  })());
}
