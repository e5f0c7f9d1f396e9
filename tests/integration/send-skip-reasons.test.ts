/**
 * Every skipped recipient has a reason, and the send says how many for each; a preview for a named
 * subscriber covers their own window and topics, or says why the send would skip them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';
import { isAppError } from '../../lambdas/core/errors.ts';
import { SKIP_REASONS } from '../../lambdas/core/sends/model.ts';
import { createSend, getSend, previewSend } from '../../lambdas/core/sends/use-cases.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import {
  outboxByRecipient,
  publisherOf,
  seedSubscribers,
  startDeliveryPipeline,
  subscriberItem,
  waitForSend,
  writeItems,
  type Pipeline,
} from '../support/delivery-harness.ts';
import { freshTable } from '../support/dynamo.ts';

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

let dir: string;
let ses: SesEndpoint;
let pipeline: Pipeline;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inkwire-skips-'));
  const table = await freshTable('skips');
  ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
  pipeline = await startDeliveryPipeline({ dynamoEndpoint: table.endpoint, tableName: table.tableName, sesUrl: ses.url, dataDir: join(dir, 'data') });
  const publish = publisherOf(table.doc, table.tableName);
  await publish('Comet seen', ago(50 * HOUR), ['Science']);
  await publish('Budget passes', ago(30 * HOUR), ['Politics']);
  const longAgo = ago(60 * 24 * HOUR);
  await seedSubscribers(table.doc, table.tableName, [
    { id: 'reader', frequency: 'weekly', confirmedAt: longAgo, lastDigestAt: { weekly: ago(7 * 24 * HOUR) } },
    // Had a digest after both articles: nothing new.
    { id: 'caughtup', frequency: 'weekly', confirmedAt: longAgo, lastDigestAt: { weekly: ago(2 * HOUR) } },
    // Two new articles, neither on sport.
    { id: 'sporty', frequency: 'weekly', topics: ['sport'], confirmedAt: longAgo, lastDigestAt: { weekly: ago(7 * 24 * HOUR) } },
  ]);
  // The audience index lags the table (a GSI is eventually consistent): these two are still listed in
  // it, but the worker's consistent read finds one unsubscribed and one paused.
  await writeItems(table.doc, table.tableName, [
    { ...subscriberItem({ id: 'leaver', frequency: 'weekly', status: 'unsubscribed', confirmedAt: longAgo }), ...keys.audienceGsi2('weekly', 'leaver') },
    { ...subscriberItem({ id: 'resting', frequency: 'weekly', paused: true, confirmedAt: longAgo }), ...keys.audienceGsi2('weekly', 'resting') },
  ]);
  await pipeline.idle();
});

afterAll(async () => {
  await pipeline?.stop();
  await ses?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('skip reasons', () => {
  it('previews a named subscriber\u2019s digest over their own window and topics', async () => {
    const p = await previewSend(pipeline.deps, { kind: 'digest', frequency: 'weekly', subscriberId: 'reader' });
    expect(p.articles.map((a) => a.title)).toEqual(['Budget passes', 'Comet seen']);
    expect(p.window?.since).toBe((await pipeline.deps.audience.recipients([['reader', '']])).get('reader')?.recipient?.lastDigestAt?.weekly);
    expect(p.window?.until).toBeDefined();
    expect(Date.parse(p.window!.until)).toBeGreaterThan(Date.parse(p.window!.since));
  });

  it('says why a named subscriber would be skipped, with the same reason code the send records', async () => {
    const refused = async (subscriberId: string) => {
      const e = await previewSend(pipeline.deps, { kind: 'digest', frequency: 'weekly', subscriberId }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isAppError(e) && e.code).toBe('send.nothingToSend');
      return (e as Error).message;
    };
    expect(await refused('caughtup')).toMatch(/would not get this send: nothingNew, nothing new since .*their window: after /);
    expect(await refused('sporty')).toMatch(/would not get this send: topicsExcludeAll, new articles .* none on their topics/);
    expect(await refused('resting')).toMatch(/paused/);
  });

  it('records a reason for every skipped recipient, at planning and at sending, and shows the counts per reason', async () => {
    const created = await createSend(pipeline.deps, { kind: 'digest', frequency: 'weekly' });
    const send = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed');
    expect(send.counts).toMatchObject({ planned: 5, submitted: 1, skipped: 4 });
    expect(send.skippedBy).toMatchObject({ nothingNew: 1, topicsExcludeAll: 1, unsubscribed: 1, paused: 1 });
    const total = SKIP_REASONS.reduce((n, r) => n + send.skippedBy[r], 0);
    expect(total).toBe(send.counts.skipped);
    expect([...(await outboxByRecipient(ses.outboxDir)).keys()]).toEqual(['reader@example.org']);

    const out = await getSend(pipeline.deps, created.body.id);
    expect(out.skippedBy).toEqual({ ...Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])), nothingNew: 1, topicsExcludeAll: 1, unsubscribed: 1, paused: 1 });
  });

  it('gives each recipient of a second digest their own reason: the reader, just served, now has nothing new', async () => {
    const created = await createSend(pipeline.deps, { kind: 'digest', frequency: 'weekly' });
    const done = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed');
    // Everyone had their digest (or was skipped): a second one skips all five, the reader now for nothing new.
    expect(done.skippedBy).toMatchObject({ nothingNew: 2, topicsExcludeAll: 1, unsubscribed: 1, paused: 1 });
    expect(done.counts.skipped).toBe(5);
  });
});
