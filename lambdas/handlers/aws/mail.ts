import { SESClient } from '@aws-sdk/client-ses';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SesSuppressionList } from '../../adapters/ses/suppression-list.ts';
import { systemClock } from '../../core/clock.ts';
import { SesMailer } from '../../adapters/ses/ses-mailer.ts';
import { mailParts, subscriberDeps, type MailParts } from '../../compose/mail.ts';
import type { SubscriberDeps } from '../../core/subscribers/use-cases.ts';
import { accountLimiter, pacedMailer } from '../../compose/sending.ts';
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
      mailer: pacedMailer(new SesMailer({ client: new SESClient({}) }), accountLimiter(sendingBase()).limiter),
      tokenSecret,
      templatesDir: awsEnv().TEMPLATES_DIR,
    }),
  ));
}

export async function awsSubscriberDeps(): Promise<SubscriberDeps> {
  return {
    ...subscriberDeps(awsEnv(), site(), await awsMailParts(), dynamo(), awsEnv().TABLE_NAME, systemClock, (m, d) => console.error(m, d)),
    // Erasures and fresh confirmations keep SES's account-level suppression list in step.
    providerSuppressions: new SesSuppressionList(new SESv2Client({})),
  };
}

