import { SESClient } from '@aws-sdk/client-ses';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SesSuppressionList } from '../../adapters/ses/suppression-list.ts';
import { systemClock } from '../../core/clock.ts';
import { SesMailer } from '../../adapters/ses/ses-mailer.ts';
import { mailParts, subscriberDeps, type MailParts } from '../../compose/mail.ts';
import type { SubscriberDeps } from '../../core/subscribers/use-cases.ts';
import { accountLimiter, pacedMailer } from '../../compose/sending.ts';
import { meteredMailer, METRICS } from '../../compose/observability.ts';
import { awsLog, awsMetrics, traced } from './observability.ts';
import { awsEnv, dynamo, required, secret, site } from './env.ts';
import { sendingBase } from './plan.ts';

let parts: Promise<MailParts> | undefined;
/**
 * The SES mailer, the email templates and the token signer (its key read once from Secrets Manager). The
 * mailer takes each message's instant from the account's shared rate, as the send workers do, so the
 * API's confirmation and welcome mail counts against the same rate.
 */
export function awsMailParts(): Promise<MailParts> {
  return (parts ??= secret(required('TOKEN_SECRET_ARN')).then((tokenSecret) =>
    mailParts(awsEnv(), site(), {
      // Counted as SES answers each call (EmailsSubmitted, EmailsThrottled, EmailsFailed), after the pacing wait.
      mailer: pacedMailer(meteredMailer(new SesMailer({ client: traced(new SESClient({})) }), awsMetrics()), accountLimiter(sendingBase()).limiter),
      tokenSecret,
      templatesDir: awsEnv().TEMPLATES_DIR,
    }),
  ));
}

export async function awsSubscriberDeps(): Promise<SubscriberDeps> {
  return {
    ...subscriberDeps(awsEnv(), site(), await awsMailParts(), dynamo(), awsEnv().TABLE_NAME, systemClock, awsLog),
    // Erasures and fresh confirmations keep SES's account-level suppression list in step.
    providerSuppressions: new SesSuppressionList(traced(new SESv2Client({}))),
    // What each POST /subscribe did, as the metric Subscribes by outcome (the answer never says).
    onSubscribed: (outcome) => awsMetrics().count(METRICS.subscribes, 1, { outcome }),
  };
}
