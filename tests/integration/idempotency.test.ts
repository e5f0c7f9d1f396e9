import { describe, expect, it } from 'vitest';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { idempotencyPut, readIdempotency } from '../../lambdas/adapters/dynamodb/idempotency.ts';
import { freshTable } from '../support/dynamo.ts';

describe('idempotency records', () => {
  it('replays a record within its lifetime and treats one past it as gone, though TTL has not deleted it yet', async () => {
    const { doc, tableName } = await freshTable('idem');
    const now = Date.now();
    const claim = (key: string, expiresAt: number) =>
      idempotencyPut(tableName, { scope: 's', key, requestHash: 'h', status: 201, response: { id: key }, expiresAt });
    await doc.send(new TransactWriteCommand({ TransactItems: [claim('fresh', Math.floor(now / 1000) + 3600), claim('stale', Math.floor(now / 1000) - 1)] }));
    expect(await readIdempotency(doc, tableName, 's', 'fresh', now)).toEqual({ requestHash: 'h', status: 201, response: { id: 'fresh' } });
    expect(await readIdempotency(doc, tableName, 's', 'stale', now)).toBeUndefined();
  });

  it('refuses a second claim of the same key in its condition', async () => {
    const { doc, tableName } = await freshTable('idem');
    const put = idempotencyPut(tableName, { scope: 's', key: 'k', requestHash: 'h', status: 201, response: {}, expiresAt: Math.floor(Date.now() / 1000) + 60 });
    await doc.send(new TransactWriteCommand({ TransactItems: [put] }));
    await expect(doc.send(new TransactWriteCommand({ TransactItems: [put] }))).rejects.toMatchObject({ name: 'TransactionCanceledException' });
  });
});
