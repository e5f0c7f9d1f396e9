import { beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../support/dynamo.ts';
import { aSubscriber } from '../support/subscribers.ts';
import { DynamoSubscriberRepository } from '../../lambdas/adapters/dynamodb/subscriber-repository.ts';
import { DynamoGrowthMarks } from '../../lambdas/adapters/dynamodb/growth-marks.ts';
import { GROWTH_SHARDS } from '../../lambdas/adapters/dynamodb/keys.ts';
import { StaleSubscriber } from '../../lambdas/core/subscribers/ports.ts';
import { subscriberGrowth } from '../../lambdas/core/subscribers/growth.ts';
import type { Subscriber } from '../../lambdas/core/subscribers/schema.ts';

/**
 * Growth is counted from marks the subscriber repository writes with each change of the confirmed list,
 * in the same transaction, on DynamoDB Local: exact days, erasures included, a failed write leaves none,
 * and a retried import writes each once.
 */
describe('growth marks (the subscriber repository on DynamoDB Local)', () => {
  let doc: DynamoDBDocumentClient;
  let tableName: string;
  let repo: DynamoSubscriberRepository;
  let marks: DynamoGrowthMarks;

  beforeAll(async () => {
    ({ doc, tableName } = await freshTable('growth'));
    repo = new DynamoSubscriberRepository(doc, tableName);
    marks = new DynamoGrowthMarks(doc, tableName);
  });

  const subscriber = (email: string, at: string, over: Partial<Subscriber> = {}) => aSubscriber(email, { createdAt: at, frequency: 'weekly', ...over });
  const change = (s: Subscriber, at: string, c: Partial<Subscriber>): Subscriber => ({ ...s, ...c, updatedAt: at, version: s.version + 1 });

  it('dates every change of the confirmed list by its own write, and nets them per day', async () => {
    // Day 1: two sign up; one confirms. Day 2: the other confirms, the first unsubscribes. Day 3: the
    // second is suppressed by a complaint, comes back (resubscribes and confirms), and is erased.
    const a = subscriber('a@example.org', '2026-11-01T09:00:00Z');
    const b = subscriber('b@example.org', '2026-11-01T09:00:00Z');
    await repo.create(a);
    await repo.create(b);
    const a2 = change(a, '2026-11-01T23:59:59Z', { status: 'confirmed', confirmedAt: '2026-11-01T23:59:59Z' });
    await repo.update(a2, a);
    const b2 = change(b, '2026-11-02T00:00:00Z', { status: 'confirmed', confirmedAt: '2026-11-02T00:00:00Z' });
    await repo.update(b2, b);
    const a3 = change(a2, '2026-11-02T10:00:00Z', { status: 'unsubscribed', unsubscribedAt: '2026-11-02T10:00:00Z' });
    await repo.update(a3, a2);
    const b3 = change(b2, '2026-11-03T08:00:00Z', { status: 'suppressed', suppressedReason: 'complaint' });
    await repo.update(b3, b2, { suppress: { emailHash: b.emailHash, reason: 'complaint', at: '2026-11-03T08:00:00Z' } });
    const b4 = change(b3, '2026-11-03T09:00:00Z', { status: 'confirmed' });
    await repo.update(b4, b3, { unsuppress: true });
    // A preference change of a confirmed subscriber is not a change of the list.
    const b5 = change(b4, '2026-11-03T09:30:00Z', { frequency: 'daily' });
    await repo.update(b5, b4);
    await repo.erase(b5, { emailHash: b.emailHash, reason: 'erased', at: '2026-11-03T10:00:00Z' });
    // A stale write fails whole: no mark without its change.
    await expect(repo.update(change(a, '2026-11-03T11:00:00Z', { status: 'confirmed' }), a)).rejects.toBeInstanceOf(StaleSubscriber);

    const counts = await marks.countsByDay('2026-11-01', '2026-11-03');
    expect(Object.fromEntries(counts)).toEqual({
      '2026-11-01': { confirmed: 1, unsubscribed: 0, suppressed: 0, erased: 0 },
      '2026-11-02': { confirmed: 1, unsubscribed: 1, suppressed: 0, erased: 0 },
      '2026-11-03': { confirmed: 1, unsubscribed: 0, suppressed: 1, erased: 1 },
    });
    const g = await subscriberGrowth({ growth: marks, clock: { now: () => new Date('2026-11-03T12:00:00Z') } }, 30);
    expect(g.items.slice(-3).map((d) => d.net)).toEqual([1, 0, -1]);
    // Nobody is confirmed now: the nets add up to the change in confirmed subscribers.
    expect(g.totals.net).toBe(0);
    // The range is inclusive and nothing outside it is read.
    expect([...(await marks.countsByDay('2026-11-02', '2026-11-02')).keys()]).toEqual(['2026-11-02']);
  });

  it('an import with consent marks each subscriber once, however often it is retried, across the shards', async () => {
    const at = '2026-11-10T12:00:00Z';
    const batch = Array.from({ length: 60 }, (_, i) => subscriber(`imported${i}@example.org`, at, { status: 'confirmed', confirmedAt: at, source: 'import' }));
    await repo.createMany(batch);
    await repo.createMany(batch);
    expect((await marks.countsByDay('2026-11-10', '2026-11-10')).get('2026-11-10')).toEqual({ confirmed: 60, unsubscribed: 0, suppressed: 0, erased: 0 });
    const perShard = await Promise.all(
      Array.from({ length: GROWTH_SHARDS }, async (_, shard) => {
        const out = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'PK = :pk',
            ExpressionAttributeValues: { ':pk': `GROWTH#${shard}` },
            Select: 'COUNT',
          }),
        );
        return out.Count ?? 0;
      }),
    );
    expect(perShard.filter((n) => n > 0).length).toBeGreaterThan(GROWTH_SHARDS / 2);
  });

  it('marks expire 100 days after their day (the table\u2019s TTL)', async () => {
    const found = await Promise.all(
      Array.from({ length: GROWTH_SHARDS }, (_, shard) =>
        doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'PK = :pk AND begins_with(SK, :d)',
            ExpressionAttributeValues: { ':pk': `GROWTH#${shard}`, ':d': '2026-11-10' },
          }),
        ),
      ),
    );
    const all = found.flatMap((out) => out.Items ?? []);
    expect(all).toHaveLength(60);
    expect(new Set(all.map((m) => m.expiresAt))).toEqual(new Set([Date.parse('2026-11-10T00:00:00Z') / 1000 + 100 * 86_400]));
  });
});
