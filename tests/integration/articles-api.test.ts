import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';

let rt: TestRuntime;
beforeAll(async () => {
  rt = await startTestRuntime();
});
afterAll(async () => rt?.cleanup());

const article = (over: Record<string, unknown> = {}) => ({ title: 'A title', body: 'Some *text*.', ...over });

describe('publisher API: authentication', () => {
  it('refuses a missing key with 401 and says how to send it', async () => {
    const res = await rt.get('/api/articles');
    expect(res.status).toBe(401);
    expect((await res.json()).error).toMatchObject({ code: 'auth.missingKey', message: expect.stringContaining('Bearer') });
  });

  it('refuses a wrong key with 401', async () => {
    const res = await rt.api('/api/articles', { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('auth.invalidKey');
  });
});

describe('publisher API: bad input is a 4xx naming the problem', () => {
  it('names a missing field', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: { body: 'x' } });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe('request.invalid');
    expect(error.issues).toContainEqual({ path: 'title', message: 'is required' });
  });

  it('names unknown fields, bad enums and bad nested values', async () => {
    const res = await rt.api('/api/articles', {
      method: 'POST',
      json: { title: 'x', body: 'y', colour: 'red', status: 'live', authors: [{ name: 'A', email: 'not-an-email' }] },
    });
    expect(res.status).toBe(400);
    const { issues } = (await res.json()).error as { issues: { path: string; message: string }[] };
    expect(issues).toContainEqual({ path: 'colour', message: 'unknown field' });
    expect(issues.map((i) => i.path).sort()).toEqual(['authors.0.email', 'colour', 'status']);
  });

  it('refuses a title with a line break', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: article({ title: 'two\nlines' }) });
    expect(res.status).toBe(400);
    expect((await res.json()).error.issues[0]).toMatchObject({ path: 'title', message: 'must be one line' });
  });

  it('answers malformed JSON with 400', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', body: '{"title": ', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('request.malformedJson');
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', body: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
  });

  it('answers a request over 256 KiB with 413', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: article({ body: 'x'.repeat(300 * 1024) }) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('request.tooLarge');
  });

  it('answers an article body over its byte limit with 413 naming the field', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: article({ body: '—'.repeat(50_000) }) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.issues[0].path).toBe('body');
  });

  it('refuses a scheduled article without a future publishAt', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: article({ status: 'scheduled', publishAt: '2020-01-01T00:00:00Z' }) });
    expect(res.status).toBe(400);
    expect((await res.json()).error.issues[0].path).toBe('publishAt');
  });

  it('answers an unknown id with 404 and a forged cursor with 400', async () => {
    expect((await rt.api('/api/articles/0000000000000000000000nope')).status).toBe(404);
    const res = await rt.api('/api/articles?cursor=eyJoYWNrIjoxfQ');
    expect(res.status).toBe(400);
    expect((await res.json()).error.issues[0].path).toBe('cursor');
  });
});

describe('publisher API: articles', () => {
  it('creates an article with a derived summary and URL and sanitized HTML', async () => {
    const res = await rt.api('/api/articles', {
      method: 'POST',
      json: {
        title: 'Sanitize me',
        bodyFormat: 'html',
        body: '<p onclick="x()">Hi <a href="javascript:alert(1)">bad</a> <a href="/rel">rel</a></p><script>alert(1)</script><iframe src="https://evil"></iframe><p style="display:none">hidden</p><img src="/a.png" onerror="x()">',
      },
    });
    expect(res.status).toBe(201);
    const a = await res.json();
    expect(a.id).toMatch(/^[0-9a-z]{26}$/);
    expect(a.url).toBe('https://news.example.com/articles/sanitize-me/');
    expect(res.headers.get('location')).toBe(`/api/articles/${a.id}`);
    expect(a.contentHtml).not.toMatch(/script|onclick|onerror|javascript:|iframe|style=/);
    expect(a.contentHtml).toContain('href="https://news.example.com/rel"');
    expect(a.contentHtml).toContain('src="https://news.example.com/a.png"');
    expect(a.summary).toBe('Hi bad rel hidden');
    expect(a.status).toBe('draft');
  });

  it('gives two articles with one title two URLs', async () => {
    const one = await (await rt.api('/api/articles', { method: 'POST', json: article({ title: 'Same title' }) })).json();
    const two = await (await rt.api('/api/articles', { method: 'POST', json: article({ title: 'Same title' }) })).json();
    expect(one.url).not.toBe(two.url);
    expect(two.slug).toBe('same-title-2');
  });

  it('honours Idempotency-Key: a repeat returns the first answer and creates nothing', async () => {
    const key = `k-${Date.now()}`;
    const body = article({ title: 'Idempotent one' });
    const first = await rt.api('/api/articles', { method: 'POST', json: body, headers: { 'idempotency-key': key } });
    const [second, third] = await Promise.all([
      rt.api('/api/articles', { method: 'POST', json: body, headers: { 'idempotency-key': key } }),
      rt.api('/api/articles', { method: 'POST', json: body, headers: { 'idempotency-key': key } }),
    ]);
    const a = await first.json();
    expect(second.status).toBe(201);
    expect((await second.json()).id).toBe(a.id);
    expect((await third.json()).id).toBe(a.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const all = await (await rt.api('/api/articles?limit=100')).json();
    expect(all.items.filter((x: { title: string }) => x.title === 'Idempotent one')).toHaveLength(1);
    const reused = await rt.api('/api/articles', { method: 'POST', json: article({ title: 'Other' }), headers: { 'idempotency-key': key } });
    expect(reused.status).toBe(422);
  });

  it('pages the list with next cursors and filters by status', async () => {
    for (let i = 0; i < 3; i++) await rt.api('/api/articles', { method: 'POST', json: article({ title: `Paged ${i}`, status: 'published' }) });
    const seen = new Set<string>();
    let next: string | null = null;
    let pages = 0;
    do {
      const res = await rt.api(`/api/articles?limit=2&status=published${next ? `&cursor=${next}` : ''}`);
      const page = await res.json();
      for (const it of page.items) {
        expect(it.status).toBe('published');
        seen.add(it.id);
      }
      next = page.next;
      pages++;
    } while (next && pages < 50);
    expect(seen.size).toBeGreaterThanOrEqual(3);
    expect(pages).toBeGreaterThan(1);
  });

  it('edits with PATCH and PUT, keeping id, slug and derived fields consistent', async () => {
    const a = await (await rt.api('/api/articles', { method: 'POST', json: article({ title: 'Editable', summary: 'Given' }) })).json();
    const patched = await (await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: { title: 'Edited title' } })).json();
    expect(patched).toMatchObject({ id: a.id, slug: a.slug, title: 'Edited title', summary: 'Given', version: 2 });
    const cleared = await (await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: { summary: null } })).json();
    expect(cleared.summary).toBe('Some text.');
    const put = await rt.api(`/api/articles/${a.id}`, { method: 'PUT', json: { title: 'Replaced', body: 'New body' } });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ id: a.id, title: 'Replaced', summary: 'New body', tags: [] });
    const empty = await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: {} });
    expect(empty.status).toBe(400);
    expect((await rt.api(`/api/articles/${a.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await rt.api(`/api/articles/${a.id}`)).status).toBe(404);
  });

  it('serves an OpenAPI 3.1 document that describes the article routes, and a docs page', async () => {
    const doc = await (await rt.get('/api/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/articles',
        '/api/articles/{id}',
        '/api/subscribers',
        '/api/subscribers/import',
        '/api/sends',
        '/api/sends/{id}',
        '/subscribe',
      ]),
    );
    expect(doc.paths['/api/articles'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ArticleInput' });
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const page = await rt.get('/api/docs');
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });
});

describe('stored size', () => {
  it('answers 413 naming body when the rendered HTML would not fit, never a 500', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: { title: 'Ampersands', body: '& '.repeat(55_000) } });
    expect(res.status).toBe(413);
    expect((await res.json()).error.issues[0].path).toBe('body');
  });

  it('publishes a rescheduled article at its new time, not its old publication date', async () => {
    const a = await (
      await rt.api('/api/articles', { method: 'POST', json: { title: 'Rerun', body: 'x', status: 'published', publishAt: '2023-01-05T00:00:00Z' } })
    ).json();
    const at = new Date(Date.now() + 1200).toISOString();
    let now = await (await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: { status: 'scheduled', publishAt: at } })).json();
    expect(now.status).toBe('scheduled');
    const deadline = Date.now() + 10_000;
    while (now.status !== 'published' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      now = await (await rt.api(`/api/articles/${a.id}`)).json();
    }
    expect(now).toMatchObject({ status: 'published', publishedAt: at });
  });
});

describe('content types', () => {
  it('answers CSV or a missing Content-Type on an article route with 415', async () => {
    const csv = await rt.api('/api/articles', { method: 'POST', body: 'title,body\nx,y', headers: { 'content-type': 'text/csv' } });
    expect(csv.status).toBe(415);
    const none = await rt.api('/api/articles', { method: 'POST', body: '' });
    expect(none.status).toBe(415);
    expect((await none.json()).error.code).toBe('request.unsupportedMediaType');
  });
});
