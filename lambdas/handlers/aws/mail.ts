import { SESClient } from '@aws-sdk/client-ses';
import { systemClock } from '../../core/clock.ts';
import { SesMailer } from '../../adapters/ses/ses-mailer.ts';
import { mailParts, subscriberDeps, type MailParts } from '../../compose.ts';
import type { SubscriberDeps } from '../../core/subscribers/use-cases.ts';
import { awsEnv, dynamo, required, secret, site } from './env.ts';

let parts: Promise<MailParts> | undefined;
/** The SES mailer, the email templates and the token signer (its key read once from Secrets Manager). */
export function awsMailParts(): Promise<MailParts> {
  return (parts ??= secret(required('TOKEN_SECRET_ARN')).then((tokenSecret) =>
    mailParts(awsEnv(), site(), { mailer: new SesMailer({ client: new SESClient({}) }), tokenSecret, templatesDir: awsEnv().TEMPLATES_DIR }),
  ));
}

export async function awsSubscriberDeps(): Promise<SubscriberDeps> {
  return subscriberDeps(awsEnv(), site(), await awsMailParts(), dynamo(), awsEnv().TABLE_NAME, systemClock, (m, d) => console.error(m, d));
}
