import { beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../support/dynamo.ts';
import { subscriberItem } from '../support/delivery-harness.ts';
import { DynamoAudience } from '../../lambdas/adapters/dynamodb/audience.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

let doc: DynamoDBDocumentClient;
let tableName: string;
let audience: DynamoAudience;
beforeAll(async () => {
  ({ doc, tableName } = await freshTable('digestdates'));
  audience = new DynamoAudience(doc, tableName);
});

const datesOf = async (id: string) => (await doc.send(new GetCommand({ TableName: tableName, Key: keys.subscriberDigests(id), ConsistentRead: true }))).Item;

describe('digest dates (their own item beside the subscriber)', () => {
  it('moves the digest\u2019s date forward, keeps the other frequency\u2019s, and never moves it back', async () => {
    await doc.send(new PutCommand({ TableName: tableName, Item: subscriberItem({ id: 'dd1', frequency: 'daily' }) }));
    await audience.markDigestsSent([{ subscriberId: 'dd1', previous: { weekly: '2024-02-05T08:00:00.000Z' } }], 'daily', '2024-02-11T08:00:00.000Z');
    expect(await datesOf('dd1')).toMatchObject({ daily: '2024-02-11T08:00:00.000Z', weekly: '2024-02-05T08:00:00.000Z' });
    // A late batch of an older digest, with the dates as read now, does not move it back.
    await audience.markDigestsSent([{ subscriberId: 'dd1', previous: { daily: '2024-02-11T08:00:00.000Z' } }], 'daily', '2024-02-10T08:00:00.000Z');
    expect((await datesOf('dd1'))?.daily).toBe('2024-02-11T08:00:00.000Z');
    // The recipient read sees them, with the subscriber item untouched.
    const r = (await audience.recipients([['dd1', '']])).get('dd1')!.recipient!;
    expect(r.lastDigestAt).toEqual({ daily: '2024-02-11T08:00:00.000Z', weekly: '2024-02-05T08:00:00.000Z' });
    expect((await doc.send(new GetCommand({ TableName: tableName, Key: keys.subscriber('dd1') }))).Item).toMatchObject({ version: 1 });
  });

  it('reads dates an older subscriber item still carries, taking the later of each', async () => {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...subscriberItem({ id: 'dd2', frequency: 'weekly' }),
          lastDigestAt: { weekly: '2024-02-12T08:00:00.000Z', daily: '2024-01-01T08:00:00.000Z' },
        },
      }),
    );
    await audience.markDigestsSent([{ subscriberId: 'dd2' }], 'daily', '2024-02-01T08:00:00.000Z');
    const r = (await audience.recipients([['dd2', '']])).get('dd2')!.recipient!;
    expect(r.lastDigestAt).toEqual({ daily: '2024-02-01T08:00:00.000Z', weekly: '2024-02-12T08:00:00.000Z' });
  });
});
