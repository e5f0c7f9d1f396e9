import { SESClient } from '@aws-sdk/client-ses';
import { confirmationLink, subscriberLinks } from '../../core/subscribers/links.ts';
import type { DeliveryDeps } from '../../core/sends/deps.ts';
import { accountSendRate, mailSettingsFrom, pacingFor } from '../../core/sends/settings.ts';
import { SesMailer } from '../../adapters/ses/ses-mailer.ts';
import { awsMailParts } from './mail.ts';
import { awsPlanDeps } from './plan.ts';
import { awsEnv, site } from './env.ts';

let delivery: Promise<DeliveryDeps> | undefined;
/** Sending (the worker) and the API's preview and test sends. */
export function awsDeliveryDeps(): Promise<DeliveryDeps> {
  return (delivery ??= (async () => {
    const env = awsEnv();
    const parts = await awsMailParts();
    // One SDK attempt: a throttle reaches the pacing at once, and a timed-out call is never re-sent blindly.
    const mailer = new SesMailer({ client: new SESClient({ maxAttempts: 1 }) });
    return {
      ...awsPlanDeps(),
      mailer,
      renderer: parts.emails,
      links: (id) => subscriberLinks(site(), parts.signer, id, new Date(), env.UNSUBSCRIBE_MAILBOX),
      confirmLinks: (id) => confirmationLink(site(), parts.signer, id, new Date()),
      mail: mailSettingsFrom(env, site()),
      // Each concurrent worker instance takes an equal share of the account's rate.
      ...pacingFor({ accountRate: await accountSendRate(env.SES_MAX_SEND_RATE, mailer), workers: env.SEND_WORKER_CONCURRENCY, inFlight: env.SEND_IN_FLIGHT }),
    };
  })());
}
