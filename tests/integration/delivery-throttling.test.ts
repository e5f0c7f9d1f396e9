import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { createSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';

describe('SES throttling (the local endpoint answers Throttling to 40% of calls)', () => {
  let dir: string;
  let ses: SesEndpoint;
  let pipeline: Pipeline;
  let table: Awaited<ReturnType<typeof freshTable>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-throttle-'));
    table = await freshTable('throttle');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox'), faults: { throttleShare: 0.4 } });
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'data'),
      settings: { retryBaseMs: 20, retryCapMs: 200, maxRetries: 4 },
      // Test override: a batch whose every recipient is throttled to the end without one message accepted
      // is redelivered after the queue's visibility timeout (18.5 minutes under the AWS limits). This storm
      // (40% of calls throttled, 5 tries each) now and then does that to a hand-on of one or two recipients.
      visibilityTimeoutMs: 2_000,
    });
    await seedSubscribers(table.doc, table.tableName, Array.from({ length: 400 }, (_, i) => ({ id: `t${String(i).padStart(3, '0')}` })));
  });

  afterAll(async () => {
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('retries throttled calls until every recipient is submitted, never counting a throttle as sent and never sending twice', async () => {
    const article = await createArticle(
      { articles: new DynamoArticleRepository(table.doc, table.tableName), scheduler: { schedule: async () => undefined, cancel: async () => undefined }, clock: systemClock, site: TEST_SITE },
      { title: 'Storm warning', body: 'Stay inside.', bodyFormat: 'markdown', authors: [], tags: [], status: 'published', publishAt: new Date(Date.now() - 48 * 3_600_000).toISOString() },
    );
    const created = await createSend(pipeline.deps, { kind: 'article', articleId: article.body.id });
    const send = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed', 60_000);

    expect(send.counts).toEqual({ planned: 400, submitted: 400, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
    expect(send.errors).toEqual({});
    const stats = ses.stats();
    expect(stats.throttled).toBeGreaterThan(100);
    expect(stats.accepted).toBe(400);
    const outbox = await outboxByRecipient(ses.outboxDir);
    expect(outbox.size).toBe(400);
    expect([...outbox.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);
});
