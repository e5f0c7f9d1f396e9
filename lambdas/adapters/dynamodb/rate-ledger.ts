import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RateLedger } from '../../core/sends/pacing.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';

/**
 * The SES account's sending instants in one item: `next` is the first instant nobody has reserved. A
 * reservation moves it on in one conditional write: from where it is when that is still ahead of now,
 * otherwise from now (the account was idle). Every process that sends (workers, the API) reserves here,
 * so together they keep to the account's rate, whatever their number. One write per reservation of about
 * half a second of sending: a few writes a second at any rate.
 */
export class DynamoRateLedger implements RateLedger {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly account = 'ses',
  ) {}

  async reserve(count: number, spacingMs: number, nowMs: number): Promise<number> {
    const length = Math.round(count * spacingMs * 1000) / 1000;
    const key = keys.sendingInstants(this.account);
    for (let attempt = 0; ; attempt++) {
      try {
        // Busy: queue behind the instants reserved before.
        const out = await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: 'SET #n = #n + :len',
            ConditionExpression: '#n >= :now',
            ExpressionAttributeNames: { '#n': 'next' },
            ExpressionAttributeValues: { ':len': length, ':now': nowMs },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return (out.Attributes!.next as number) - length;
      } catch (e) {
        if (!isConditionalCheckFailed(e)) throw e;
      }
      try {
        // Idle (or never used): start now.
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: 'SET #n = :end, entity = :entity',
            ConditionExpression: 'attribute_not_exists(#n) OR #n < :now',
            ExpressionAttributeNames: { '#n': 'next' },
            ExpressionAttributeValues: { ':end': nowMs + length, ':now': nowMs, ':entity': 'sendingInstants' },
          }),
        );
        return nowMs;
      } catch (e) {
        // Someone moved it ahead of now meanwhile: queue behind them.
        if (!isConditionalCheckFailed(e) || attempt >= 20) throw e;
      }
    }
  }
}
