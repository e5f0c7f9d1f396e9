import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';
import { parseWithFeedparser, validateAtomWithSchema, validateJsonFeed11, xmlWellFormed } from '../support/feed-validators.ts';

let rt: TestRuntime;
beforeAll(async () => {
  rt = await startTestRuntime({ FEED_ITEM_LIMIT: '60' });
});
afterAll(async () => rt?.cleanup());

async function publish(body: Record<string, unknown>) {
  const res = await rt.api('/api/articles', { method: 'POST', json: { status: 'published', body: 'Text.', ...body } });
  expect(res.status).toBe(201);
  return res.json() as Promise<{ id: string; url: string; updatedAt: string; publishedAt: string }>;
}

const tagUri = (id: string) => `tag:news.example.com,2024:article:${id}`;

describe('feeds regenerated on publish', () => {
  it('puts a published article in the site, tag and author feeds, in all three formats, valid', async () => {
    const a = await publish({
      title: 'Use the <b> tag & more',
      body: 'The strike — “Abu Bakr” said it’s over.\n\n## A Call for Stability\n\nMore text.',
      tags: ['Middle East'],
      authors: [{ name: 'Jane Doe', email: 'jane@example.com' }],
    });
    for (const base of ['', '/tags/middle-east', '/authors/jane-doe']) {
      const rss = await rt.waitFor(`${base}/feed.xml`, (t) => t.includes(tagUri(a.id)));
      const atom = await rt.waitFor(`${base}/atom.xml`, (t) => t.includes(tagUri(a.id)));
      const json = await rt.waitFor(`${base}/feed.json`, (t) => t.includes(tagUri(a.id)));
      expect(xmlWellFormed(rss).errors).toEqual([]);
      expect(validateAtomWithSchema(atom).errors).toEqual([]);
      expect(validateJsonFeed11(JSON.parse(json)).errors).toEqual([]);
      for (const text of [rss, atom, json]) {
        const parsed = parseWithFeedparser(text);
        expect(parsed.bozo).toBe(false);
        const entry = parsed.entries.find((e) => e.id === tagUri(a.id))!;
        expect(entry.title).toBe('Use the <b> tag & more');
        expect(entry.content.join('')).toContain('The strike — “Abu Bakr” said it’s over.');
        expect(entry.content.join('')).toMatch(/<h2>A Call for Stability<\/h2>/);
      }
    }
    const types = await Promise.all(['/feed.xml', '/atom.xml', '/feed.json'].map(async (p) => (await rt.get(p)).headers.get('content-type')));
    expect(types).toEqual(['application/rss+xml; charset=utf-8', 'application/atom+xml; charset=utf-8', 'application/feed+json; charset=utf-8']);
  });

  it('answers conditional requests with 304 and keeps bytes identical when nothing changed', async () => {
    await publish({ title: 'Conditional' });
    const body = await rt.waitFor('/atom.xml', (t) => t.includes('Conditional'));
    const first = await rt.get('/atom.xml');
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    expect((await rt.get('/atom.xml', { 'if-none-match': etag })).status).toBe(304);
    expect((await rt.get('/atom.xml', { 'if-modified-since': lastModified })).status).toBe(304);
    expect((await rt.get('/atom.xml', { 'if-none-match': '"other"' })).status).toBe(200);
    expect((await rt.get('/atom.xml', { 'if-modified-since': 'Thu, 01 Jan 2015 00:00:00 GMT' })).status).toBe(200);
    // A draft elsewhere changes no feed: same bytes, same ETag.
    await rt.api('/api/articles', { method: 'POST', json: { title: 'Just a draft', body: 'x' } });
    await rt.settled();
    const again = await rt.get('/atom.xml');
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe(body);
  });

  it('updates an edited article in place: same id, new updated date, new text', async () => {
    const a = await publish({ title: 'Before the edit', tags: ['Edits'] });
    await rt.waitFor('/tags/edits/atom.xml', (t) => t.includes('Before the edit'));
    await new Promise((r) => setTimeout(r, 5));
    const edited = await (await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: { title: 'After the edit' } })).json();
    const atom = await rt.waitFor('/tags/edits/atom.xml', (t) => t.includes('After the edit'));
    expect(atom).not.toContain('Before the edit');
    const entry = parseWithFeedparser(atom).entries.find((e) => e.id === tagUri(a.id))!;
    expect(new Date(entry.updated!).toISOString()).toBe(edited.updatedAt);
    expect(edited.updatedAt > a.updatedAt).toBe(true);
    expect(new Date(entry.published!).toISOString()).toBe(a.publishedAt);
  });

  it('takes an unpublished or deleted article out of every feed at once', async () => {
    const a = await publish({ title: 'Leaving soon', tags: ['Gone'], authors: [{ name: 'Temp Writer' }] });
    const b = await publish({ title: 'Deleted soon', tags: ['Gone'] });
    await rt.waitFor('/tags/gone/feed.xml', (t) => t.includes(a.id) && t.includes(b.id));
    await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: { status: 'draft' } });
    await rt.api(`/api/articles/${b.id}`, { method: 'DELETE' });
    for (const p of [
      '/feed.xml',
      '/atom.xml',
      '/feed.json',
      '/tags/gone/feed.xml',
      '/tags/gone/atom.xml',
      '/tags/gone/feed.json',
      '/authors/temp-writer/feed.json',
    ]) {
      await rt.waitFor(p, (t) => !t.includes(a.id) && !t.includes(b.id));
    }
    const json = JSON.parse(await rt.waitFor('/tags/gone/feed.json', () => true));
    expect(json.items).toEqual([]);
    expect(validateJsonFeed11(json).errors).toEqual([]);
  });

  it('loses no update: after 50 concurrent publishes every article is in every feed it belongs to', async () => {
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => publish({ title: `Burst ${i}`, tags: [i % 2 ? 'Odd' : 'Even'], authors: [{ name: 'Burst Author' }] })),
    );
    const ids = created.map((a) => a.id);
    const odd = ids.filter((_, i) => i % 2);
    const even = ids.filter((_, i) => i % 2 === 0);
    await rt.waitFor('/feed.json', (t) => ids.every((id) => t.includes(id)), 30_000);
    await rt.waitFor('/authors/burst-author/atom.xml', (t) => ids.every((id) => t.includes(id)), 30_000);
    await rt.waitFor('/tags/odd/feed.xml', (t) => odd.every((id) => t.includes(id)), 30_000);
    await rt.waitFor('/tags/even/feed.xml', (t) => even.every((id) => t.includes(id)), 30_000);
  });

  it('publishes a scheduled article by itself when its time comes', async () => {
    const at = new Date(Date.now() + 1500).toISOString();
    const res = await rt.api('/api/articles', { method: 'POST', json: { title: 'Scheduled one', body: 'Later.', status: 'scheduled', publishAt: at } });
    const a = await res.json();
    expect(a.status).toBe('scheduled');
    expect(await (await rt.get('/feed.xml')).text()).not.toContain(a.id);
    await rt.waitFor('/feed.xml', (t) => t.includes(a.id), 15_000);
    const now = await (await rt.api(`/api/articles/${a.id}`)).json();
    expect(now).toMatchObject({ status: 'published', publishedAt: at });
  });
});

describe('feed history (RFC 5005) and size', () => {
  it('keeps the newest N in the subscription feed and every entry in linked monthly archive pages', async () => {
    const small = await startTestRuntime({ FEED_ITEM_LIMIT: '2' });
    try {
      const dates = ['2024-01-10T10:00:00Z', '2024-01-20T10:00:00Z', '2024-02-11T10:00:00Z', '2024-03-05T10:00:00Z'];
      const ids: string[] = [];
      for (const [i, publishAt] of dates.entries()) {
        const res = await small.api('/api/articles', { method: 'POST', json: { title: `Old ${i}`, body: 'x', status: 'published', publishAt } });
        ids.push((await res.json()).id);
      }
      const sub = await small.waitFor('/atom.xml', (t) => t.includes(ids[3]!) && t.includes(ids[2]!));
      expect(sub).not.toContain(ids[0]);
      const subParsed = parseWithFeedparser(sub);
      expect(subParsed.entries).toHaveLength(2);
      expect(sub).toContain(`<link rel="prev-archive" type="application/atom+xml" href="${small.url}/feed-archive/2024-03/atom.xml"/>`);
      // Walk back through the archive from the newest page and collect every entry.
      const seen = new Set<string>();
      let url: string | undefined = `/feed-archive/2024-03/atom.xml`;
      let pages = 0;
      while (url && pages < 10) {
        const page = await small.waitFor(url, () => true);
        expect(validateAtomWithSchema(page).errors).toEqual([]);
        expect(page).toContain('<fh:archive/>');
        expect(page).toContain(`rel="current" type="application/atom+xml" href="${small.url}/atom.xml"`);
        for (const e of parseWithFeedparser(page).entries) seen.add(e.id!);
        url = /<link rel="prev-archive" type="application\/atom\+xml" href="[^"]*?(\/feed-archive\/[^"]+)"/.exec(page)?.[1];
        pages++;
      }
      expect(pages).toBe(3);
      expect([...seen].sort()).toEqual(ids.map(tagUri).sort());
      const jan = JSON.parse(await small.waitFor('/feed-archive/2024-01/feed.json', () => true));
      expect(jan.items).toHaveLength(2);
      expect(validateJsonFeed11(jan).errors).toEqual([]);
      const rssJan = await small.waitFor('/feed-archive/2024-01/feed.xml', () => true);
      expect(rssJan).toContain('next-archive');
    } finally {
      await small.cleanup();
    }
  });
});

describe('instant alerts', () => {
  it('creates one alert Send on an article’s first publication, none for edits, none for a backdated import', async () => {
    const doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: rt.dynamoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    );
    const table = rt.tableName;
    const fresh = await publish({ title: 'Fresh news' });
    const old = await publish({ title: 'Archive import', publishAt: '2024-02-11T00:00:00Z' });
    await rt.api(`/api/articles/${fresh.id}`, { method: 'PATCH', json: { title: 'Fresh news, edited' } });
    const get = (id: string) => doc.send(new GetCommand({ TableName: table!, Key: { PK: `SEND#alert-${id}`, SK: 'SEND' } }));
    expect((await get(fresh.id)).Item).toMatchObject({ kind: 'article', articleId: fresh.id, trigger: 'publish' });
    expect((await get(old.id)).Item).toBeUndefined();
  });
});

describe('Last-Modified', () => {
  it('moves forward when the newest entry is removed, so If-Modified-Since never hides the removal', async () => {
    const a = await publish({ title: 'Newest, then gone', tags: ['Lastmod'] });
    await publish({ title: 'Stays', tags: ['Lastmod'], publishAt: '2024-01-01T00:00:00Z' });
    await rt.waitFor('/tags/lastmod/atom.xml', (t) => t.includes(a.id) && t.includes('Stays'));
    const before = (await rt.get('/tags/lastmod/atom.xml')).headers.get('last-modified')!;
    await new Promise((r) => setTimeout(r, 1100));
    await rt.api(`/api/articles/${a.id}`, { method: 'PATCH', json: { status: 'draft' } });
    await rt.waitFor('/tags/lastmod/atom.xml', (t) => !t.includes(a.id));
    const res = await rt.get('/tags/lastmod/atom.xml', { 'if-modified-since': before });
    expect(res.status).toBe(200);
    expect(Date.parse(res.headers.get('last-modified')!)).toBeGreaterThan(Date.parse(before));
  });
});
