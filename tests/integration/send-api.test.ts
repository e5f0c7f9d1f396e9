// Loaded first: the articles router names core schemas with `.openapi()`, which exists only once this module has patched zod.
import '@hono/zod-openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, outboxCount, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { createArticle, type ArticleDeps } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { StaticApiKeys } from '../../lambdas/core/auth.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { createApp } from '../../lambdas/http/app.ts';
import { sendRoutes } from '../../lambdas/http/routes/sends.ts';

const KEY = 'send-api-test-key-0123456789';

describe('the sends API (/api/sends) over the local pipeline', () => {
  let dir: string;
  let ses: SesEndpoint;
  let pipeline: Pipeline;
  let app: ReturnType<typeof createApp>;
  let articleDeps: ArticleDeps;
  let articleId: string;

  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await app.request(`/api${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : { 'content-length': '0' }), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-send-api-'));
    const table = await freshTable('sendapi');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'data'),
      maxSendRate: 100,
    });
    articleDeps = {
      articles: new DynamoArticleRepository(table.doc, table.tableName),
      scheduler: { schedule: async () => undefined, cancel: async () => undefined },
      clock: systemClock,
      site: TEST_SITE,
    };
    app = createApp({
      articles: articleDeps,
      apiKeys: new StaticApiKeys([KEY]),
      mounts: [{ path: '/api', app: sendRoutes(pipeline.deps) }],
      log: () => undefined,
    });
    // Published more than a day ago: no automatic alert, so the API's sends are the only mail.
    const a = await createArticle(articleDeps, {
      title: 'Rates held',
      body: 'The bank held its rates.',
      bodyFormat: 'markdown',
      authors: [],
      tags: ['Economy'],
      status: 'published',
      publishAt: new Date(Date.now() - 30 * 3_600_000).toISOString(),
    });
    articleId = a.body.id;
    await seedSubscribers(
      table.doc,
      table.tableName,
      Array.from({ length: 300 }, (_, i) => ({ id: `s${String(i).padStart(3, '0')}`, frequency: (['instant', 'daily', 'weekly'] as const)[i % 3] })),
    );
  });

  afterAll(async () => {
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('documents its routes in the OpenAPI description', async () => {
    const res = await app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(
      Object.keys(doc.paths)
        .filter((p) => p.includes('/sends'))
        .sort(),
    ).toEqual(['/api/sends', '/api/sends/preview', '/api/sends/test', '/api/sends/{id}', '/api/sends/{id}/cancel', '/api/sends/{id}/resume']);
    expect(doc.components.schemas).toHaveProperty('Send');
    expect(doc.components.schemas).toHaveProperty('SendRequest');
  });

  it('refuses what cannot be sent, naming the field', async () => {
    expect((await api('POST', '/sends', { kind: 'digest' })).body.error).toMatchObject({ code: 'request.invalid', issues: [{ path: 'frequency' }] });
    expect((await api('POST', '/sends', { kind: 'article' })).body.error).toMatchObject({ code: 'request.invalid', issues: [{ path: 'articleId' }] });
    const draft = await createArticle(articleDeps, { title: 'Not yet', body: 'Draft.', bodyFormat: 'markdown', authors: [], tags: [], status: 'draft' });
    const refused = await api('POST', '/sends', { kind: 'article', articleId: draft.body.id });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('send.articleNotPublished');
    // ...but the publisher can see a draft's email, and test-send it, before it goes out.
    const preview = await api('POST', '/sends/preview', { kind: 'article', articleId: draft.body.id });
    expect(preview.status).toBe(200);
    expect(preview.body.subject).toBe('Not yet');
    expect(preview.body.text).toContain('Draft.');
    const scheduled = await createArticle(articleDeps, {
      title: 'Later',
      body: 'Scheduled.',
      bodyFormat: 'markdown',
      authors: [],
      tags: [],
      status: 'scheduled',
      publishAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect((await api('POST', '/sends/preview', { kind: 'article', articleId: scheduled.body.id })).status).toBe(200);
    expect((await api('POST', '/sends/preview', { kind: 'article', articleId: 'gone' })).body.error.code).toBe('send.articleNotPublished');
    expect((await api('POST', '/sends', { kind: 'article', articleId, colour: 'red' })).status).toBe(400);
    expect((await api('POST', '/sends', { kind: 'confirmation', frequency: 'daily' })).body.error).toMatchObject({
      code: 'request.invalid',
      issues: [{ path: 'frequency' }],
    });
    expect((await api('POST', '/sends', { kind: 'article', articleId, importId: 'imp1' })).body.error).toMatchObject({
      code: 'request.invalid',
      issues: [{ path: 'importId' }],
    });
    expect((await api('GET', '/sends/nope')).status).toBe(404);
  });

  it('previews a confirmation request with a confirmation link and no newsletter articles', async () => {
    const preview = await api('POST', '/sends/preview', { kind: 'confirmation' });
    expect(preview.status).toBe(200);
    expect(preview.body.text).toContain('/confirm?token=');
    expect(preview.body.articles).toEqual([]);
  });

  it('renders a preview and sends a test only to the given addresses', async () => {
    const preview = await api('POST', '/sends/preview', { kind: 'article', articleId, subject: 'Rates: held' });
    expect(preview.status).toBe(200);
    expect(preview.body.subject).toBe('Rates: held');
    expect(preview.body.html).toContain('The bank held its rates.');
    expect(preview.body.text).toContain('The bank held its rates.');
    const digest = await api('POST', '/sends/preview', { kind: 'digest', frequency: 'weekly' });
    expect(digest.body.articles).toEqual([{ id: articleId, title: 'Rates held', url: expect.stringContaining('/articles/rates-held/') }]);

    const test = await api('POST', '/sends/test', { kind: 'article', articleId, addresses: ['editor@example.com'] });
    expect(test.status).toBe(200);
    expect(test.body.results).toEqual([{ address: 'editor@example.com', messageId: expect.any(String) }]);
    expect(Object.fromEntries(await outboxByRecipient(ses.outboxDir))).toEqual({ 'editor@example.com': 1 });
  });

  it('counts a dry run without sending', async () => {
    const created = await api('POST', '/sends', { kind: 'article', articleId, frequency: 'all', dryRun: true });
    expect(created.status).toBe(202);
    await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed');
    const got = await api('GET', `/sends/${created.body.id}`);
    expect(got.body).toMatchObject({ status: 'completed', dryRun: true, counts: { planned: 300, submitted: 0 } });
    expect(await outboxCount(ses.outboxDir)).toBe(1);
  });

  it('honours Idempotency-Key: the same request creates one send; another body under the key is refused', async () => {
    const first = await api('POST', '/sends', { kind: 'article', articleId, frequency: 'instant' }, { 'idempotency-key': 'alert-rates-1' });
    const again = await api('POST', '/sends', { kind: 'article', articleId, frequency: 'instant' }, { 'idempotency-key': 'alert-rates-1' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect((await api('POST', '/sends', { kind: 'article', articleId, frequency: 'daily' }, { 'idempotency-key': 'alert-rates-1' })).status).toBe(422);

    const done = await waitForSend(pipeline.deps.sends, first.body.id, (s) => s.status === 'completed');
    expect(done.counts).toEqual({ planned: 100, submitted: 100, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
    const view = await api('GET', `/sends/${first.body.id}`);
    expect(view.body).toMatchObject({ status: 'completed', progress: 1, errors: [], trigger: 'api', kind: 'article', frequency: 'instant' });
    const list = await api('GET', '/sends?limit=10');
    expect(list.body.items.filter((s: { id: string }) => s.id === first.body.id)).toHaveLength(1);
  });

  it('refuses a resume body that is not { retryUncertain?: boolean }, saying what was expected and what came', async () => {
    const wrongType = await api('POST', '/sends/nope/resume', { retryUncertain: 'yes' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.issues).toEqual([{ path: 'retryUncertain', message: 'expected boolean, received string' }]);
    const unknown = await api('POST', '/sends/nope/resume', { retry: true });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues).toEqual([{ path: 'retry', message: 'unknown field' }]);
    // No body at all is an empty one: the send is looked up (and here not found).
    expect((await api('POST', '/sends/nope/resume')).status).toBe(404);
  });

  it('cancels a running send within moments and resumes it without mailing anyone twice', async () => {
    const before = await outboxByRecipient(ses.outboxDir);
    const created = await api('POST', '/sends', { kind: 'article', articleId, frequency: 'all' });
    const id = created.body.id as string;
    const start = await outboxCount(ses.outboxDir);
    while ((await outboxCount(ses.outboxDir)) < start + 40) await new Promise((r) => setTimeout(r, 20));
    const cancelled = await api('POST', `/sends/${id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', reason: 'cancelled by the publisher' });
    await pipeline.idle();
    const atCancel = await outboxCount(ses.outboxDir);
    await new Promise((r) => setTimeout(r, 300));
    expect(await outboxCount(ses.outboxDir)).toBe(atCancel);
    const stopped = (await api('GET', `/sends/${id}`)).body;
    expect(stopped.counts.submitted).toBeLessThan(300);
    expect((await api('POST', `/sends/${id}/cancel`)).status).toBe(409);

    const resumed = await api('POST', `/sends/${id}/resume`);
    expect(resumed.body.status).toBe('planning');
    const done = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'completed', 30_000);
    expect(done.counts).toEqual({ planned: 300, submitted: 300, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
    const after = await outboxByRecipient(ses.outboxDir);
    for (let i = 0; i < 300; i++) {
      const address = `s${String(i).padStart(3, '0')}@example.org`;
      expect((after.get(address) ?? 0) - (before.get(address) ?? 0), address).toBe(1);
    }
    expect((await api('POST', `/sends/${id}/resume`)).status).toBe(409);
  });

  it('test-sends a draft article, so the publisher sees the real email before it goes out', async () => {
    const draft = await createArticle(articleDeps, {
      title: 'Draft check',
      body: 'Still a draft.',
      bodyFormat: 'markdown',
      authors: [],
      tags: [],
      status: 'draft',
    });
    const test = await api('POST', '/sends/test', { kind: 'article', articleId: draft.body.id, addresses: ['draft-check@example.com'] });
    expect(test.status).toBe(200);
    expect(test.body.results).toEqual([{ address: 'draft-check@example.com', messageId: expect.any(String) }]);
    expect((await outboxByRecipient(ses.outboxDir)).get('draft-check@example.com')).toBe(1);
  });
});
