import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyClaim, IdempotencyRecord } from '../../core/idempotency.ts';
import { keys } from './keys.ts';

/**
 * The idempotency record's item, written in the same transaction as what it protects. Its condition
 * fails when the key was used before; the caller maps that to IdempotencyConflict.
 */
export function idempotencyPut(table: string, claim: IdempotencyClaim) {
  return {
    Put: {
      TableName: table,
      Item: {
        ...keys.idempotency(claim.scope, claim.key),
        entity: 'idempotency',
        requestHash: claim.requestHash,
        status: claim.status,
        response: JSON.stringify(claim.response),
        expiresAt: claim.expiresAt,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  };
}

/** The first answer for a key, if any. TTL deletes late (up to days): an expired record is treated as gone. */
export async function readIdempotency(
  db: DynamoDBDocumentClient,
  table: string,
  scope: string,
  key: string,
  now = Date.now(),
): Promise<IdempotencyRecord | undefined> {
  const { Item } = await db.send(new GetCommand({ TableName: table, Key: keys.idempotency(scope, key), ConsistentRead: true }));
  if (!Item || (typeof Item.expiresAt === 'number' && Item.expiresAt * 1000 < now)) return undefined;
  return { requestHash: Item.requestHash as string, status: Item.status as number, response: JSON.parse(Item.response as string) };
}
