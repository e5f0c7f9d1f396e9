import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, suppress, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';
import { createArticle, patchArticle, type ArticleDeps } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';

describe('instant alerts through the local pipeline (DynamoDB Local, local SES endpoint, in-process queue)', () => {
  let dir: string;
  let ses: SesEndpoint;
  let pipeline: Pipeline;
  let articleDeps: ArticleDeps;
  let table: Awaited<ReturnType<typeof freshTable>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-instant-'));
    table = await freshTable('instant');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'data'),
      maxSendRate: 200,
    });
    articleDeps = {
      articles: new DynamoArticleRepository(table.doc, table.tableName),
      scheduler: { schedule: async () => undefined, cancel: async () => undefined },
      clock: systemClock,
      site: TEST_SITE,
    };
    await seedSubscribers(table.doc, table.tableName, [
      { id: 'all', name: 'Ada Lovelace' },
      { id: 'politics', topics: ['politics'] },
      { id: 'science', topics: ['science'] },
      { id: 'daily', frequency: 'daily' },
      { id: 'paused', paused: true },
      { id: 'gone', status: 'unsubscribed' },
      { id: 'unconfirmed', status: 'pending' },
      { id: 'bounced' },
    ]);
    await suppress(table.doc, table.tableName, 'bounced@example.org');
  });

  afterAll(async () => {
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('mails each matching instant subscriber exactly once when an article is first published, and never on edits', async () => {
    const created = await createArticle(articleDeps, {
      title: 'Parliament votes',
      body: 'The vote was close.',
      bodyFormat: 'markdown',
      authors: [{ name: 'Jane Doe' }],
      tags: ['Politics'],
      status: 'published',
    });
    const sendId = `alert-${created.body.id}`;
    const send = await waitForSend(pipeline.deps.sends, sendId, (s) => s.status === 'completed');
    expect(send.counts).toEqual({ planned: 3, submitted: 2, failed: 0, suppressed: 1, skipped: 0, uncertain: 0 });

    const outbox = await outboxByRecipient(ses.outboxDir);
    expect(Object.fromEntries(outbox)).toEqual({ 'all@example.org': 1, 'politics@example.org': 1 });

    // An edit, and a republication after unpublishing, alert nobody again.
    await patchArticle(articleDeps, created.body.id, { title: 'Parliament votes, again' });
    await patchArticle(articleDeps, created.body.id, { status: 'draft' });
    await patchArticle(articleDeps, created.body.id, { status: 'published' });
    await pipeline.idle();
    expect(Object.fromEntries(await outboxByRecipient(ses.outboxDir))).toEqual({ 'all@example.org': 1, 'politics@example.org': 1 });

    // Every recipient has a delivery record; submitted ones carry SES's message id.
    const { Items } = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :d)',
        ExpressionAttributeValues: { ':pk': `SEND#${sendId}`, ':d': 'D#' },
      }),
    );
    const byId = Object.fromEntries((Items ?? []).map((d) => [d.subscriberId as string, d]));
    expect(Object.keys(byId).sort()).toEqual(['all', 'bounced', 'politics']);
    expect(byId.all!.state).toBe('submitted');
    expect(byId.all!.messageId).toMatch(/^[0-9a-f]{16}-/);
    expect(byId.bounced!.state).toBe('suppressed');
  });

  it('carries per-recipient List-Unsubscribe, List-Unsubscribe-Post, List-Id and the send and subscriber tags', async () => {
    const days = await readdir(ses.outboxDir);
    const files = (await readdir(join(ses.outboxDir, days[0]!))).filter((f) => f.endsWith('.json'));
    const sidecars = await Promise.all(
      files.map(
        async (f) =>
          JSON.parse(await readFile(join(ses.outboxDir, days[0]!, f), 'utf8')) as {
            destinations: string[];
            tags: Record<string, string>;
            configurationSet: string;
            messageId: string;
          },
      ),
    );
    const ada = sidecars.find((s) => s.destinations[0] === 'all@example.org')!;
    expect(ada.tags).toMatchObject({ send_id: expect.stringMatching(/^alert-/), subscriber_id: 'all', kind: 'article' });
    expect(ada.configurationSet).toBe('newsletter');
    const msg = parseMessage(await readFile(join(ses.outboxDir, days[0]!, files.find((f) => f.includes(ada.messageId))!.replace(/\.json$/, '.eml'))));
    expect(msg.header('list-unsubscribe')).toMatch(
      /^<https:\/\/news\.example\.com\/unsubscribe\?token=[^>]+>, <mailto:unsubscribe@news\.example\.com\?subject=unsubscribe/,
    );
    expect(msg.header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(msg.header('list-id')).toBe('Thin Line News <news.example.com>');
    expect(msg.header('to')).toContain('Ada Lovelace');
    expect(msg.header('subject')).toBe('Parliament votes');
    expect(msg.text).toContain('The vote was close.');
    expect(msg.html).toContain('/unsubscribe?token=');
    // The other recipient's links are their own.
    const other = sidecars.find((s) => s.destinations[0] === 'politics@example.org')!;
    const otherMsg = parseMessage(await readFile(join(ses.outboxDir, days[0]!, files.find((f) => f.includes(other.messageId))!.replace(/\.json$/, '.eml'))));
    expect(otherMsg.header('list-unsubscribe')).not.toBe(msg.header('list-unsubscribe'));
  });

  it('alerts nobody for an imported article published more than a day ago', async () => {
    const before = [...(await outboxByRecipient(ses.outboxDir)).values()].reduce((a, b) => a + b, 0);
    const old = await createArticle(articleDeps, {
      title: 'From the archive',
      body: 'Old news.',
      bodyFormat: 'markdown',
      authors: [],
      tags: [],
      status: 'published',
      publishAt: '2020-01-01T00:00:00Z',
    });
    await pipeline.idle();
    expect(await pipeline.deps.sends.get(`alert-${old.body.id}`)).toBeUndefined();
    expect([...(await outboxByRecipient(ses.outboxDir)).values()].reduce((a, b) => a + b, 0)).toBe(before);
  });
});
