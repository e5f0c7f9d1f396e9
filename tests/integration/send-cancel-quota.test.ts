/**
 * Stopping a send, over the local pipeline (DynamoDB Local, the local SES endpoint enforcing a 14/s account
 * with a 24-hour quota, the real SESClient): a cancel stops new provider calls at once, and a send that does
 * not fit in the account's 24-hour quota pauses, saying so and until when, instead of failing recipients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { cancelSend, createSend, resumeSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';

describe('cancel and the daily quota', () => {
  let dir: string;
  let ses: SesEndpoint;
  let pipeline: Pipeline;
  let table: Awaited<ReturnType<typeof freshTable>>;
  let articleId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-cancel-'));
    table = await freshTable('cancel');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox'), quota: { maxSendRate: 14 }, enforceRate: true });
    // The quota is read again every 200 ms here (10 s by default), so the test need not wait.
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'data'),
      maxSendRate: 14,
      settings: { quotaCheckMs: 200 },
    });
    const a = await createArticle(
      {
        articles: new DynamoArticleRepository(table.doc, table.tableName),
        scheduler: { schedule: async () => undefined, cancel: async () => undefined },
        clock: systemClock,
        site: TEST_SITE,
      },
      {
        title: 'Polls close',
        body: 'Counting starts.',
        bodyFormat: 'markdown',
        authors: [],
        tags: [],
        status: 'published',
        publishAt: new Date(Date.now() - 30 * 3_600_000).toISOString(),
      },
    );
    articleId = a.body.id;
    await seedSubscribers(table.doc, table.tableName, [
      ...Array.from({ length: 40 }, (_, i) => ({ id: `c${String(i).padStart(2, '0')}`, frequency: 'daily' as const })),
      ...Array.from({ length: 12 }, (_, i) => ({ id: `q${String(i).padStart(2, '0')}`, frequency: 'weekly' as const })),
    ]);
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts no provider call once the cancel is recorded: nothing reaches SES later than the status reading allows', async () => {
    const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'daily' });
    const deadline = Date.now() + 20_000;
    while (ses.stats().acceptedRecipients < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const cancelled = await cancelSend(pipeline.deps, created.body.id);
    const answeredAt = Date.now();
    expect(cancelled.status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 1500));
    await pipeline.idle();

    // A call may start while a reading from before the cancel is still fresh (statusCheckMs, 250 ms), plus
    // one status read; none after. The engine used to claim a second of recipients at a time and send them all.
    const late = ses.acceptedAt.filter((t) => t > answeredAt + pipeline.deps.settings.statusCheckMs + 250);
    expect(
      late.map((t) => t - answeredAt),
      'accepted this long after the cancel was answered (ms)',
    ).toEqual([]);
    expect(ses.stats().acceptedRecipients).toBeLessThan(40);
    const send = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.counts.submitted === ses.stats().acceptedRecipients, 10_000);
    expect(send.status).toBe('cancelled');
    expect(send.counts.failed).toBe(0);
  }, 60_000);

  it('pauses a send that does not fit in the 24-hour quota before mailing anyone, says until when, and finishes once resumed', async () => {
    const before = ses.stats().acceptedRecipients;
    ses.setAccount({ max24HourSend: before + 5 });
    const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'weekly' });
    const paused = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'paused', 20_000);
    expect(paused.reason).toMatch(/24-hour sending quota has room for 5 more message\(s\) .*needs 12 more.* by \d{4}-\d\d-\d\dT/);
    expect(paused.counts.failed).toBe(0);
    expect(ses.stats().acceptedRecipients).toBe(before);

    ses.setAccount({ max24HourSend: 1_000_000 });
    await resumeSend(pipeline.deps, created.body.id);
    const done = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed', 20_000);
    expect(done.counts).toMatchObject({ planned: 12, submitted: 12, failed: 0 });
    const outbox = await outboxByRecipient(ses.outboxDir);
    for (let i = 0; i < 12; i++) expect(outbox.get(`q${String(i).padStart(2, '0')}@example.org`)).toBe(1);
  }, 60_000);

  it('pauses a running send when the quota runs out under it (other mail used it), without failing anyone', async () => {
    // A fresh audience: the cancelled send's daily subscribers, sent again as a new send.
    const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'daily' });
    const start = ses.stats().acceptedRecipients;
    const deadline = Date.now() + 20_000;
    while (ses.stats().acceptedRecipients < start + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    ses.setAccount({ max24HourSend: ses.stats().sentLast24Hours });
    const paused = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'paused', 20_000);
    await pipeline.idle();
    expect(paused.reason).toMatch(/quota/);
    const send = await pipeline.deps.sends.get(created.body.id);
    expect(send!.counts.failed).toBe(0);
    expect(send!.counts.submitted).toBe(ses.stats().acceptedRecipients - start);
    expect(send!.counts.submitted).toBeLessThan(40);
    ses.setAccount({ max24HourSend: 1_000_000 });
  }, 60_000);
});
