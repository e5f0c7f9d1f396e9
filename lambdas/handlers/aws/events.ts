import { SESv2Client } from '@aws-sdk/client-sesv2';
import { systemClock } from '../../core/clock.ts';
import { SesSuppressionList } from '../../adapters/ses/suppression-list.ts';
import type { ProviderEventDeps } from '../../core/provider-events.ts';
import { providerEventDeps } from '../../compose/provider-events.ts';
import { awsEnv, dynamo, required, secret } from './env.ts';
import { awsLog, traced } from './observability.ts';

let deps: Promise<ProviderEventDeps> | undefined;
/** The SES events consumer: the table and the token key (mailto unsubscribes), read once per container. */
export function awsProviderEventDeps(): Promise<ProviderEventDeps> {
  return (deps ??= secret(required('TOKEN_SECRET_ARN')).then((tokenSecret) =>
    providerEventDeps(awsEnv(), dynamo(), awsEnv().TABLE_NAME, systemClock, tokenSecret, new SesSuppressionList(traced(new SESv2Client({}))), awsLog),
  ));
}
