import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../core/clock.ts';
import type { ImportDeps } from '../core/subscribers/import.ts';
import { requestImportConfirmations } from '../core/sends/use-cases.ts';
import { DynamoSubscriberRepository } from '../adapters/dynamodb/subscriber-repository.ts';
import { DynamoSendRepository } from '../adapters/dynamodb/send-repository.ts';
import type { MailEnv } from '../config.ts';

/**
 * The part of the subscriber feature an import needs, shared by both composition roots and by the
 * import function, which carries no mailer, templates or token key (kept apart from compose/mail.ts, whose
 * email renderer would otherwise come along in that function's bundle).
 */
export function importDeps(
  env: Pick<MailEnv, 'DEFAULT_FREQUENCY' | 'SOFT_BOUNCE_THRESHOLD'>,
  db: DynamoDBDocumentClient,
  table: string,
  clock: Clock,
): ImportDeps {
  return {
    subscribers: new DynamoSubscriberRepository(db, table),
    clock,
    settings: { defaultFrequency: env.DEFAULT_FREQUENCY, softBounceThreshold: env.SOFT_BOUNCE_THRESHOLD },
    // An import's confirmation requests go out as a send: created here, planned and delivered by the engine.
    confirmations: { request: (importId) => requestImportConfirmations({ sends: new DynamoSendRepository(db, table), clock }, importId) },
  };
}
