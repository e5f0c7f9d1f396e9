import { createHash } from 'node:crypto';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RateDecision, RateLimit, RateLimiter } from '../../core/subscribers/ports.ts';
import { keys } from './keys.ts';
import { isConditionalCheckFailed } from './errors.ts';

/**
 * A fixed-window counter per key: one item per key and window (`RATE#<scope>#<hash>` / `W#<windowStart>`),
 * incremented with a conditional update, so concurrent requests on any number of Lambda instances share
 * one count. The key is hashed (client addresses and email addresses are personal data) and the item
 * expires by TTL shortly after its window.
 */
export class DynamoRateLimiter implements RateLimiter {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async hit(scope: string, key: string, limit: RateLimit, now: Date): Promise<RateDecision> {
    const nowSeconds = now.getTime() / 1000;
    const windowStart = Math.floor(nowSeconds / limit.windowSeconds) * limit.windowSeconds;
    const windowEnd = windowStart + limit.windowSeconds;
    const hashed = createHash('sha256').update(`${scope}\n${key}`, 'utf8').digest('hex').slice(0, 32);
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.rateWindow(scope, hashed, windowStart),
          UpdateExpression: 'SET entity = :e, expiresAt = if_not_exists(expiresAt, :exp) ADD hits :one',
          ConditionExpression: 'attribute_not_exists(hits) OR hits < :max',
          ExpressionAttributeValues: { ':e': 'rateWindow', ':exp': windowEnd + 60, ':one': 1, ':max': limit.max },
        }),
      );
      return { allowed: true };
    } catch (e) {
      if (isConditionalCheckFailed(e)) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(windowEnd - nowSeconds)) };
      throw e;
    }
  }
}
