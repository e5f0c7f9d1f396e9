import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../support/dynamo.ts';
import { aSubscriber } from '../support/subscribers.ts';
import { DynamoSubscriberRepository } from '../../lambdas/adapters/dynamodb/subscriber-repository.ts';
import { DynamoRateLimiter } from '../../lambdas/adapters/dynamodb/rate-limiter.ts';
import { DynamoAudience } from '../../lambdas/adapters/dynamodb/audience.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';
import { AlreadySeen, EmailTaken, StaleSubscriber } from '../../lambdas/core/subscribers/ports.ts';
import { emailHash, type Subscriber } from '../../lambdas/core/subscribers/schema.ts';
import { newId } from '../../lambdas/core/ids.ts';

let doc: DynamoDBDocumentClient;
let tableName: string;
let repo: DynamoSubscriberRepository;

beforeAll(async () => {
  ({ doc, tableName } = await freshTable('subrepo'));
  repo = new DynamoSubscriberRepository(doc, tableName);
});

const subscriber = aSubscriber;
const item = async (id: string) => (await doc.send(new GetCommand({ TableName: tableName, Key: keys.subscriber(id) }))).Item!;
const audience = async (frequency: string) =>
  (
    (
      await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: 'GSI2',
          KeyConditionExpression: 'GSI2PK = :pk',
          ExpressionAttributeValues: { ':pk': `AUD#${frequency}` },
        }),
      )
    ).Items ?? []
  ).map((i) => i.id as string);
const next = (s: Subscriber, change: Partial<Subscriber>): Subscriber => ({ ...s, ...change, version: s.version + 1 });

describe('DynamoSubscriberRepository', () => {
  it('claims each address once', async () => {
    const a = subscriber('Once@example.org');
    await repo.create(a);
    await expect(repo.create(subscriber('once@EXAMPLE.org'))).rejects.toBeInstanceOf(EmailTaken);
    expect((await repo.findByEmailHash(emailHash('ONCE@example.org')))!.id).toBe(a.id);
  });

  it('keeps GSI1 on the status and GSI2 only while confirmed and not paused', async () => {
    let s = subscriber('index@example.org');
    await repo.create(s);
    expect((await item(s.id)).GSI1PK).toBe('SUBS#pending');
    expect(await audience('daily')).not.toContain(s.id);
    const steps: [Partial<Subscriber>, string, boolean][] = [
      [{ status: 'confirmed', confirmedAt: '2024-02-11T11:00:00.000Z' }, 'SUBS#confirmed', true],
      [{ paused: true }, 'SUBS#confirmed', false],
      [{ paused: false, frequency: 'weekly' }, 'SUBS#confirmed', true],
      [{ status: 'unsubscribed' }, 'SUBS#unsubscribed', false],
      [{ status: 'confirmed' }, 'SUBS#confirmed', true],
      [{ status: 'suppressed', suppressedReason: 'bounce' }, 'SUBS#suppressed', false],
    ];
    for (const [change, gsi1, inAud] of steps) {
      const n = next(s, change);
      await repo.update(n, s);
      s = n;
      const it = await item(s.id);
      expect(it.GSI1PK).toBe(gsi1);
      expect(it.GSI2PK === undefined).toBe(!inAud);
      if (inAud) expect(it).toMatchObject({ GSI2PK: `AUD#${s.frequency}`, GSI2SK: s.id });
      expect(await audience(s.frequency)).toEqual(inAud ? expect.arrayContaining([s.id]) : expect.not.arrayContaining([s.id]));
    }
    expect(await audience('daily')).not.toContain(s.id);
  });

  it('refuses a stale update and never overwrites attributes it does not own (the delivery engine\u2019s lastDigestAt)', async () => {
    const s = subscriber('stale@example.org', { status: 'confirmed' });
    await repo.create(s);
    // Another module marks a digest as sent and moves the version.
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: keys.subscriber(s.id),
        UpdateExpression: 'SET lastDigestAt = :l ADD version :one',
        ExpressionAttributeValues: { ':l': { daily: '2024-02-12T08:00:00.000Z' }, ':one': 1 },
      }),
    );
    await expect(repo.update(next(s, { frequency: 'weekly' }), s)).rejects.toBeInstanceOf(StaleSubscriber);
    const fresh = (await repo.get(s.id))!;
    expect(fresh.lastDigestAt).toEqual({ daily: '2024-02-12T08:00:00.000Z' });
    await repo.update(next(fresh, { frequency: 'weekly', name: undefined }), fresh);
    expect(await item(s.id)).toMatchObject({ frequency: 'weekly', lastDigestAt: { daily: '2024-02-12T08:00:00.000Z' }, version: 3 });
  });

  it('records a seen message in the same write as the change, and refuses it the second time', async () => {
    const s = subscriber('seen@example.org', { status: 'confirmed' });
    await repo.create(s);
    const seen = { source: 'sns', id: `m-${newId()}`, expiresAt: 2_000_000_000 };
    await repo.update(next(s, { softBounces: 1 }), s, { seen });
    const s2 = (await repo.get(s.id))!;
    await expect(repo.update(next(s2, { softBounces: 2 }), s2, { seen })).rejects.toBeInstanceOf(AlreadySeen);
    expect((await repo.get(s.id))!.softBounces).toBe(1);
    expect(await repo.markSeen(seen)).toBe(false);
    expect(await repo.markSeen({ ...seen, id: `${seen.id}-other` })).toBe(true);
  });

  it('erases to a hash: no subscriber, no claim, no digest dates, a suppression', async () => {
    const s = subscriber('gone@example.org', { name: 'Gone Person' });
    await repo.create(s);
    await new DynamoAudience(doc, tableName).markDigestsSent([{ subscriberId: s.id }], 'daily', '2024-02-11T08:00:00.000Z');
    expect((await doc.send(new GetCommand({ TableName: tableName, Key: keys.subscriberDigests(s.id) }))).Item).toMatchObject({
      daily: '2024-02-11T08:00:00.000Z',
    });
    await repo.erase(s, { emailHash: s.emailHash, reason: 'erased', at: '2024-02-11T12:00:00.000Z' });
    expect(await repo.get(s.id)).toBeUndefined();
    expect((await doc.send(new GetCommand({ TableName: tableName, Key: keys.subscriberDigests(s.id) }))).Item).toBeUndefined();
    expect(await repo.findByEmailHash(s.emailHash)).toBeUndefined();
    expect(await repo.getSuppression(s.emailHash)).toEqual({ emailHash: s.emailHash, reason: 'erased', at: '2024-02-11T12:00:00.000Z' });
    expect(await repo.isSuppressed(s.emailHash)).toBe(true);
    expect(await repo.isSuppressed(emailHash('never@example.org'))).toBe(false);
  });

  it('looks up many addresses at once and creates many', async () => {
    const created = Array.from({ length: 60 }, (_, i) => subscriber(`bulk-${i}@example.org`, { status: 'confirmed', source: 'import' }));
    await repo.createMany(created);
    await repo.suppressAddress({ emailHash: emailHash('bulk-suppressed@example.org'), reason: 'complaint', at: '2024-02-11T12:00:00.000Z' });
    const hashes = [...created.slice(0, 48).map((s) => s.emailHash), emailHash('bulk-suppressed@example.org'), emailHash('bulk-unknown@example.org')];
    const found = await repo.lookup(hashes);
    expect(found.get(created[7]!.emailHash)!.subscriber!.id).toBe(created[7]!.id);
    expect(found.get(emailHash('bulk-suppressed@example.org'))).toEqual({ suppression: expect.objectContaining({ reason: 'complaint' }) });
    expect(found.get(emailHash('bulk-unknown@example.org'))).toEqual({});
    expect(await audience('daily')).toEqual(expect.arrayContaining(created.map((s) => s.id)));
  });
});

describe('DynamoRateLimiter', () => {
  it('allows max hits per fixed window, then refuses with the seconds left, and starts again in the next window', async () => {
    const limiter = new DynamoRateLimiter(doc, tableName);
    const limit = { max: 2, windowSeconds: 60 };
    const t0 = new Date('2024-02-11T10:00:10.000Z');
    expect(await limiter.hit('subscribe-client', '203.0.113.7', limit, t0)).toEqual({ allowed: true });
    expect(await limiter.hit('subscribe-client', '203.0.113.7', limit, t0)).toEqual({ allowed: true });
    expect(await limiter.hit('subscribe-client', '203.0.113.7', limit, t0)).toEqual({ allowed: false, retryAfterSeconds: 50 });
    expect(await limiter.hit('subscribe-client', '203.0.113.8', limit, t0)).toEqual({ allowed: true });
    expect(await limiter.hit('subscribe-email', '203.0.113.7', limit, t0)).toEqual({ allowed: true });
    expect(await limiter.hit('subscribe-client', '203.0.113.7', limit, new Date('2024-02-11T10:01:00.000Z'))).toEqual({ allowed: true });
  });

  it('stores hashed keys with a TTL, never the address itself', async () => {
    const limiter = new DynamoRateLimiter(doc, tableName);
    const t0 = new Date('2024-02-11T11:00:00.000Z');
    await limiter.hit('subscribe-email', 'private@example.org', { max: 5, windowSeconds: 3600 }, t0);
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: {
          ':pk': `RATE#subscribe-email#${createHash('sha256').update('subscribe-email\nprivate@example.org').digest('hex').slice(0, 32)}`,
        },
      }),
    );
    const it = out.Items![0]!;
    expect(JSON.stringify(it)).not.toContain('private@example.org');
    expect(it).toMatchObject({ entity: 'rateWindow', hits: 1, SK: `W#${t0.getTime() / 1000}`, expiresAt: t0.getTime() / 1000 + 3600 + 60 });
  });
});
