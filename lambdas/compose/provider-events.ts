import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../core/clock.ts';
import type { ProviderEventDeps } from '../core/provider-events.ts';
import { createTokenSigner } from '../core/subscribers/tokens.ts';
import type { ProviderSuppressions } from '../core/subscribers/ports.ts';
import { DynamoSendRepository } from '../adapters/dynamodb/send-repository.ts';
import type { MailEnv } from '../config.ts';
import { importDeps } from './import.ts';

/**
 * The SES events consumer, for both runtimes: suppression and mailto unsubscribes (the token key verifies
 * the unsubscribe token) and the send reports. No mailer or templates, so its bundle stays small.
 */
export function providerEventDeps(
  env: Pick<MailEnv, 'DEFAULT_FREQUENCY' | 'SOFT_BOUNCE_THRESHOLD'>,
  db: DynamoDBDocumentClient,
  table: string,
  clock: Clock,
  tokenSecret: string,
  providerSuppressions: ProviderSuppressions | undefined,
  log?: (m: string, d: unknown) => void,
): ProviderEventDeps {
  const { subscribers, settings } = importDeps(env, db, table, clock);
  return {
    subscribers: { subscribers, providerSuppressions, settings, clock, signer: createTokenSigner(tokenSecret), log },
    reports: { sends: new DynamoSendRepository(db, table) },
  };
}
