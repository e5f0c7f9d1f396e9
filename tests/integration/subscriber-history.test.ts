import { beforeAll, describe, expect, it } from 'vitest';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { freshTable } from '../support/dynamo.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { DynamoSubscriberHistory } from '../../lambdas/adapters/dynamodb/subscriber-history.ts';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { AppError } from '../../lambdas/core/errors.ts';
import { newId } from '../../lambdas/core/ids.ts';
import type { Delivery } from '../../lambdas/core/sends/model.ts';

/**
 * A subscriber's send history, read through the delivery records' subscriber index (GSI3) on DynamoDB
 * Local: every send that reached them, however many sends came after, a page at a time, newest first.
 */
describe('subscriber send history (DynamoDB Local)', () => {
  let repo: DynamoSendRepository;
  let history: DynamoSubscriberHistory;
  const base = Date.parse('2026-01-01T00:00:00Z');
  const iso = (minutes: number) => new Date(base + minutes * 60_000).toISOString();

  const record = (sendId: string, subscriberId: string, minutes: number, extra: Partial<Delivery> = {}): Delivery => ({
    sendId,
    subscriberId,
    state: 'submitted',
    claim: `c-${sendId}-${subscriberId}`,
    claimedAt: iso(minutes),
    generation: 1,
    batchId: '0.0',
    submittedAt: iso(minutes),
    messageId: `m-${sendId}-${subscriberId}`,
    ...extra,
  });

  beforeAll(async () => {
    const table = await freshTable('history');
    repo = new DynamoSendRepository(table.doc, table.tableName);
    history = new DynamoSubscriberHistory(table.doc, table.tableName);
    // 130 sends, one a minute. Alice is in the first (older than the newest 100), every tenth, and the
    // last; Bob only in the last. The sixth send skipped her (paused), and SES reported on the last.
    for (let i = 0; i < 130; i++) {
      const id = `s${String(i).padStart(3, '0')}`;
      await repo.create({
        id,
        kind: i % 2 ? 'digest' : 'article',
        trigger: 'api',
        status: 'pending',
        createdAt: iso(i),
        deadline: iso(i + 600),
        subject: `Issue ${i}`,
      });
    }
    const alice: Delivery[] = [];
    for (let i = 0; i < 130; i += 10) alice.push(record(`s${String(i).padStart(3, '0')}`, 'alice', i));
    alice.push(record('s129', 'alice', 129), record('s006', 'alice', 6, { state: 'skipped', code: 'paused', submittedAt: undefined, messageId: undefined }));
    expect((await repo.claimDeliveries(alice)).size).toBe(0);
    await repo.claimDelivery(record('s129', 'bob', 129));
    await repo.report({ sendId: 's129', subscriberId: 'alice', kind: 'delivered', at: iso(130), messageId: 'm-s129-alice' });
  });

  it('pages through every send that reached the subscriber, newest first, the oldest of 130 sends included', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await history.sendsTo('alice', { limit: 4, cursor });
      expect(page.items.length).toBeLessThanOrEqual(4);
      seen.push(...page.items.map((h) => h.sendId));
      cursor = page.next ?? undefined;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual(['s129', 's120', 's110', 's100', 's090', 's080', 's070', 's060', 's050', 's040', 's030', 's020', 's010', 's006', 's000']);
    expect(pages).toBe(4);
  });

  it('joins each record with its send and what SES reported, and keeps skip reasons', async () => {
    const { items } = await history.sendsTo('alice', { limit: 100 });
    expect(items[0]).toEqual({
      sendId: 's129',
      kind: 'digest',
      subject: 'Issue 129',
      sendCreatedAt: iso(129),
      state: 'submitted',
      submittedAt: iso(129),
      reported: { delivered: iso(130) },
    });
    expect(items.find((h) => h.sendId === 's006')).toMatchObject({ state: 'skipped', code: 'paused', kind: 'article', reported: {} });
    expect((await history.sendsTo('bob', { limit: 100 })).items.map((h) => h.sendId)).toEqual(['s129']);
    expect(await history.sendsTo('carol', { limit: 10 })).toEqual({ items: [], next: null });
  });

  it('a later update of a record (its state) leaves it in the history once', async () => {
    await repo.updateDelivery('s120', 'alice', { from: ['submitted'] }, { state: 'failed', code: 'X' });
    const { items } = await history.sendsTo('alice', { limit: 100 });
    expect(items.filter((h) => h.sendId === 's120')).toEqual([expect.objectContaining({ state: 'failed', code: 'X' })]);
  });

  it('refuses another subscriber\u2019s cursor, or a forged one, with the app\u2019s 400', async () => {
    const first = await history.sendsTo('alice', { limit: 1 });
    expect(first.next).toEqual(expect.any(String));
    const refused = await history.sendsTo('bob', { limit: 1, cursor: first.next! }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('request.invalid');
    await expect(history.sendsTo('alice', { limit: 1, cursor: 'e30' })).rejects.toThrow(/cursor/);
  });
});

describe('a table kept from before the subscriber index', () => {
  it('gains the missing index when the local runtime starts on it', async () => {
    const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const TableName = `old-${newId()}`;
    const gsi = (n: number) => ({
      IndexName: `GSI${n}`,
      KeySchema: [
        { AttributeName: `GSI${n}PK`, KeyType: 'HASH' as const },
        { AttributeName: `GSI${n}SK`, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    });
    await client.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [gsi(1), gsi(2)],
      }),
    );
    await ensureTable(client, TableName);
    const { Table } = await client.send(new DescribeTableCommand({ TableName }));
    const indexes = Object.fromEntries((Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i.Projection?.ProjectionType]));
    expect(indexes).toEqual({ GSI1: 'ALL', GSI2: 'ALL', GSI3: 'KEYS_ONLY' });
  });
});
