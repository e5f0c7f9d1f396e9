import { describe, expect, it } from 'vitest';
import type { Article } from '../../lambdas/core/articles/schema.ts';
import { feedsOf, type FeedKey } from '../../lambdas/core/feeds/feeds.ts';
import type { FeedEntryRef, FeedIndex, ReadableDocumentStore, StoredDocumentInput } from '../../lambdas/core/feeds/ports.ts';
import { rebuildSite, rebuildWholeSite, type ChangedEntry, type SiteChange } from '../../lambdas/core/site/rebuild.ts';
import { escapeHtml } from '../../lambdas/core/html.ts';
import { createFeedRebuildHandler } from '../../lambdas/handlers/feed-rebuild.ts';
import type { DynamoDBRecord } from 'aws-lambda';
import type { SiteConfig } from '../../lambdas/core/site.ts';
import { TEST_SITE } from '../support/site.ts';

const site: SiteConfig = { ...TEST_SITE, feedItemLimit: 10 };

const article = (id: string, publishedAt: string, extra: Partial<Article> = {}): Article => ({
  id,
  slug: `slug-${id}`,
  title: `Title ${id}`,
  bodyFormat: 'markdown',
  body: 'x',
  contentHtml: `<p>Body of ${id}</p>`,
  summary: `Summary ${id}`,
  summaryDerived: true,
  authors: [{ name: 'Ada Writer' }],
  tags: [{ name: 'Politics', slug: 'politics' }],
  url: `https://news.example.com/articles/slug-${id}/`,
  urlDerived: true,
  status: 'published',
  publishedAt,
  createdAt: publishedAt,
  updatedAt: publishedAt,
  version: 1,
  ...extra,
});

/** The table's feed entries, derived from the articles as the repository writes them. */
class StandInIndex implements FeedIndex {
  readonly byId = new Map<string, Article>();
  reads = 0;
  put(a: Article) {
    this.byId.set(a.id, a);
  }
  private refs(feed: FeedKey): FeedEntryRef[] {
    return [...this.byId.values()]
      .filter((a) => feedsOf(a).includes(feed))
      .map((a) => ({ articleId: a.id, publishedAt: a.publishedAt!, rev: a.version }))
      .sort((x, y) => (`${x.publishedAt}#${x.articleId}` < `${y.publishedAt}#${y.articleId}` ? 1 : -1));
  }
  async newest(feed: FeedKey, limit: number) {
    return this.refs(feed).slice(0, limit);
  }
  async month(feed: FeedKey, month: string) {
    return this.refs(feed).filter((r) => r.publishedAt.startsWith(month));
  }
  async monthBefore(feed: FeedKey, month: string) {
    return this.refs(feed)
      .find((r) => r.publishedAt.slice(0, 7) < month)
      ?.publishedAt.slice(0, 7);
  }
  async monthAfter(feed: FeedKey, month: string) {
    return [...this.refs(feed)]
      .reverse()
      .find((r) => r.publishedAt.slice(0, 7) > month)
      ?.publishedAt.slice(0, 7);
  }
  async articles(ids: string[]) {
    this.reads += ids.length;
    return new Map(ids.filter((id) => this.byId.has(id)).map((id) => [id, this.byId.get(id)!]));
  }
}

class MemoryStore implements ReadableDocumentStore {
  readonly docs = new Map<string, StoredDocumentInput>();
  async put(doc: StoredDocumentInput) {
    if (this.docs.get(doc.path)?.body === doc.body) return false;
    this.docs.set(doc.path, doc);
    return true;
  }
  async delete(path: string) {
    this.docs.delete(path);
  }
  async read(path: string) {
    return this.docs.get(path)?.body;
  }
  body(path: string): string {
    const d = this.docs.get(path);
    if (!d) throw new Error(`no document at ${path}; have ${[...this.docs.keys()].join(', ')}`);
    return d.body;
  }
}

/** What the stream records of these articles' feed entries say changed. */
function changeOf(...articles: Article[]): SiteChange {
  const feeds = new Map<FeedKey, Set<string>>();
  const entries: ChangedEntry[] = [];
  for (const a of articles) {
    const month = a.publishedAt!.slice(0, 7);
    for (const f of feedsOf({ ...a, status: 'published' })) {
      if (!feeds.has(f)) feeds.set(f, new Set());
      feeds.get(f)!.add(month);
    }
    entries.push({ articleId: a.id, publishedAt: a.publishedAt! });
  }
  return { feeds, entries };
}

const pagesOf = (store: MemoryStore) => [...store.docs.keys()].filter((p) => p.endsWith('.html'));

describe('rebuildSite', () => {
  it('writes every page type, each linked to its feeds, and nothing the second time', async () => {
    const index = new StandInIndex();
    const a1 = article('a1', '2024-01-20T10:00:00.000Z');
    const a2 = article('a2', '2024-02-01T10:00:00.000Z', { tags: [{ name: 'World', slug: 'world' }] });
    index.put(a1);
    index.put(a2);
    const store = new MemoryStore();
    await rebuildSite({ index, store, site }, changeOf(a1, a2));
    expect(pagesOf(store).sort()).toEqual([
      '/404.html',
      '/archive/index.html',
      '/articles/slug-a1/index.html',
      '/articles/slug-a2/index.html',
      '/authors/ada-writer/index.html',
      '/authors/ada-writer/page/2024-01/index.html',
      '/authors/ada-writer/page/2024-02/index.html',
      '/index.html',
      '/page/2024-01/index.html',
      '/page/2024-02/index.html',
      '/tags/index.html',
      '/tags/politics/index.html',
      '/tags/politics/page/2024-01/index.html',
      '/tags/world/index.html',
      '/tags/world/page/2024-02/index.html',
    ]);
    const home = store.body('/index.html');
    expect(home).toContain('<html lang="en-US">');
    expect(home).toContain('<link rel="alternate" type="application/atom+xml" title="Thin Line News (Atom)" href="https://news.example.com/atom.xml">');
    expect(home).toContain('<link rel="canonical" href="https://news.example.com/">');
    expect(home.indexOf('/articles/slug-a2/')).toBeLessThan(home.indexOf('/articles/slug-a1/'));
    expect(home).toContain('action="https://news.example.com/subscribe"');
    expect(home).toContain('href="/archive/"');
    const tag = store.body('/tags/politics/index.html');
    expect(tag).toContain('href="https://news.example.com/tags/politics/feed.xml"');
    expect(store.body('/authors/ada-writer/index.html')).toContain('href="https://news.example.com/authors/ada-writer/feed.json"');

    const page = store.body('/articles/slug-a2/index.html');
    const ld = JSON.parse(/<script type="application\/ld\+json">(.*?)<\/script>/s.exec(page)![1]!);
    expect(ld).toMatchObject({
      '@type': 'NewsArticle',
      headline: 'Title a2',
      datePublished: a2.publishedAt,
      author: [{ '@type': 'Person', name: 'Ada Writer' }],
    });
    expect(page).toContain('<meta property="og:type" content="article">');
    expect(page).toContain('<meta name="twitter:card" content="summary">');
    expect(page).toContain('href="https://news.example.com/tags/world/atom.xml"');
    expect(page).toContain('href="https://news.example.com/authors/ada-writer/feed.xml"');
    expect(page).toContain('<a href="/articles/slug-a1/" rel="prev">Title a1</a>');
    expect(store.body('/articles/slug-a1/index.html')).toContain('<a href="/articles/slug-a2/" rel="next">Title a2</a>');
    expect(store.body('/page/2024-02/index.html')).toContain('href="/page/2024-01/" rel="prev"');
    expect(store.body('/sitemap.xml')).toContain('<loc>https://news.example.com/sitemaps/2024-01.xml</loc>');
    expect(store.body('/sitemaps/2024-02.xml')).toContain(
      '<url><loc>https://news.example.com/articles/slug-a2/</loc><lastmod>2024-02-01T10:00:00.000Z</lastmod></url>',
    );
    expect(store.body('/robots.txt')).toContain('Sitemap: https://news.example.com/sitemap.xml');

    const before = new Map([...store.docs].map(([p, d]) => [p, d.body]));
    const again = await rebuildSite({ index, store, site }, changeOf(a1, a2));
    expect(again.written).toEqual([]);
    expect(new Map([...store.docs].map(([p, d]) => [p, d.body]))).toEqual(before);
  });

  it('on a publish rewrites only the pages whose bytes changed: not older months or older articles', async () => {
    const index = new StandInIndex();
    const old = Array.from({ length: 40 }, (_, i) => article(`o${i}`, new Date(Date.UTC(2024, 1, 10) - (i + 1) * 86_400_000).toISOString()));
    for (const a of old) index.put(a);
    const store = new MemoryStore();
    await rebuildSite({ index, store, site }, changeOf(...old));
    const fresh = article('new', '2024-02-11T10:00:00.000Z', { tags: [] });
    index.put(fresh);
    const report = await rebuildSite({ index, store, site }, changeOf(fresh));
    expect(report.written.sort()).toEqual([
      '/_site/articles/new.json',
      '/articles/slug-new/index.html',
      '/articles/slug-o0/index.html',
      '/authors/ada-writer/index.html',
      '/authors/ada-writer/page/2024-02/index.html',
      '/index.html',
      '/page/2024-02/index.html',
      '/sitemaps/2024-02.xml',
    ]);
    expect(report.deleted).toEqual([]);
  });

  it('reads as many articles for one publish with 1,000 articles stored as with 100', async () => {
    const reads = async (stored: number) => {
      const index = new StandInIndex();
      for (let i = 0; i < stored; i++) index.put(article(`o${i}`, new Date(Date.UTC(2024, 1, 10) - (i + 1) * 86_400_000).toISOString()));
      const fresh = article('new', '2024-02-11T10:00:00.000Z');
      index.put(fresh);
      index.reads = 0;
      await rebuildSite({ index, store: new MemoryStore(), site }, changeOf(fresh));
      return index.reads;
    };
    const small = await reads(100);
    expect(small).toBeGreaterThan(0);
    expect(await reads(1000)).toBe(small);
  });

  it('removes an unpublished or deleted article\u2019s page and every link to it in the same rebuild', async () => {
    const index = new StandInIndex();
    const a1 = article('a1', '2024-02-01T10:00:00.000Z');
    const a2 = article('a2', '2024-02-02T10:00:00.000Z', { tags: [{ name: 'Solo', slug: 'solo' }] });
    const a3 = article('a3', '2024-02-03T10:00:00.000Z');
    for (const a of [a1, a2, a3]) index.put(a);
    const store = new MemoryStore();
    await rebuildSite({ index, store, site }, changeOf(a1, a2, a3));
    expect(store.body('/index.html')).toContain('/articles/slug-a2/');

    index.put({ ...a2, status: 'draft', version: 2 });
    await rebuildSite({ index, store, site }, changeOf(a2));
    expect(store.docs.has('/articles/slug-a2/index.html')).toBe(false);
    expect(store.docs.has('/tags/solo/index.html')).toBe(false);
    expect(store.docs.has('/tags/solo/page/2024-02/index.html')).toBe(false);
    for (const [path, doc] of store.docs) {
      expect(doc.body, path).not.toContain('slug-a2');
      expect(doc.body, path).not.toContain('/tags/solo/');
    }
    expect(store.body('/articles/slug-a3/index.html')).toContain('<a href="/articles/slug-a1/" rel="prev">');

    // Deleted outright: the feed entry names only the id; the page is found through its record.
    index.byId.delete('a3');
    await rebuildSite({ index, store, site }, changeOf(a3));
    expect(store.docs.has('/articles/slug-a3/index.html')).toBe(false);
    expect(store.docs.has('/_site/articles/a3.json')).toBe(false);
    for (const [path, doc] of store.docs) expect(doc.body, path).not.toContain('slug-a3');
  });

  it('keeps a moved article\u2019s page when its old place is removed (a new publication date)', async () => {
    const index = new StandInIndex();
    const a1 = article('a1', '2024-02-01T10:00:00.000Z');
    index.put(a1);
    const store = new MemoryStore();
    await rebuildSite({ index, store, site }, changeOf(a1));
    const moved = { ...a1, publishedAt: '2024-03-01T10:00:00.000Z', version: 2 };
    index.put(moved);
    await rebuildSite(
      { index, store, site },
      {
        feeds: changeOf(a1, moved).feeds,
        entries: [
          { articleId: 'a1', publishedAt: a1.publishedAt! },
          { articleId: 'a1', publishedAt: moved.publishedAt },
        ],
      },
    );
    expect(store.body('/articles/slug-a1/index.html')).toContain('datetime="2024-03-01T10:00:00.000Z"');
    expect(store.docs.has('/page/2024-02/index.html')).toBe(false);
  });

  it('escapes what publishers write, and takes colours, footer and language from configuration', async () => {
    const index = new StandInIndex();
    const a = article('x', '2024-02-01T10:00:00.000Z', { title: 'Cats & <script>alert(1)</script>', summary: 'He said "hi" & left' });
    index.put(a);
    const store = new MemoryStore();
    const themed: SiteConfig = { ...site, language: 'de-DE', theme: { accentColor: '#aa3300', footerText: 'Ein Projekt von <Thin Line>' } };
    await rebuildSite({ index, store, site: themed }, changeOf(a));
    const page = store.body('/articles/slug-x/index.html');
    expect(page).toContain('<h1>Cats &amp; &lt;script&gt;alert(1)&lt;/script&gt;</h1>');
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('<html lang="de-DE">');
    expect(page).toContain('1. Februar 2024');
    expect(page).toContain('--accent:#aa3300');
    expect(page).toContain('<p>Ein Projekt von &lt;Thin Line&gt;</p>');
    // JSON-LD cannot end its script element early.
    expect(page).toContain('\\u003cscript>alert(1)\\u003c/script>');
  });

  it('builds the whole site at once into the same pages as publish by publish', async () => {
    const index = new StandInIndex();
    const all = Array.from({ length: 30 }, (_, i) =>
      article(`w${i}`, new Date(Date.UTC(2024, 2, 20) - i * 2.5 * 86_400_000).toISOString(), {
        tags: [{ name: i % 2 ? 'Local' : 'World', slug: i % 2 ? 'local' : 'world' }],
      }),
    );
    const incremental = new MemoryStore();
    for (const a of [...all].reverse()) {
      index.put(a);
      await rebuildSite({ index, store: incremental, site }, changeOf(a));
    }
    const whole = new MemoryStore();
    const report = await rebuildWholeSite({ index, store: whole, site });
    const bodies = (store: MemoryStore) => new Map([...store.docs].map(([p, d]) => [p, d.body]));
    expect(bodies(whole)).toEqual(bodies(incremental));
    expect(report.written.length).toBe(whole.docs.size);
    expect((await rebuildWholeSite({ index, store: whole, site })).written).toEqual([]);
  });

  it('writes only the 404 page and robots.txt when the pages are off', async () => {
    const index = new StandInIndex();
    const a = article('a1', '2024-02-01T10:00:00.000Z');
    index.put(a);
    const store = new MemoryStore();
    await rebuildSite({ index, store, site: { ...site, pages: false } }, changeOf(a));
    expect([...store.docs.keys()].sort()).toEqual(['/404.html', '/robots.txt']);
  });
});

describe('the stream handler', () => {
  const record = (eventName: 'INSERT' | 'REMOVE', feed: FeedKey, a: Article, seq: string): DynamoDBRecord => ({
    eventName,
    dynamodb: { Keys: { PK: { S: `FEED#${feed}` }, SK: { S: `E#${a.publishedAt}#${a.id}` } }, SequenceNumber: seq },
  });

  it('rebuilds the pages of the site feed entries in the batch, beside the feeds', async () => {
    const index = new StandInIndex();
    const a = article('a1', '2024-02-01T10:00:00.000Z');
    index.put(a);
    const store = new MemoryStore();
    const handle = createFeedRebuildHandler({ index, store, pages: store, site });
    const records = feedsOf(a).map((f, i) => record('INSERT', f, a, String(i + 1)));
    expect(await handle({ Records: records })).toEqual({ batchItemFailures: [] });
    expect(store.body('/atom.xml')).toContain('article:a1');
    expect(store.body('/articles/slug-a1/index.html')).toContain('<h1>Title a1</h1>');
    expect(store.body('/tags/politics/index.html')).toContain('/articles/slug-a1/');

    index.byId.delete('a1');
    await handle({ Records: feedsOf(a).map((f, i) => record('REMOVE', f, a, String(i + 10))) });
    expect(store.docs.has('/articles/slug-a1/index.html')).toBe(false);
    expect(store.docs.has('/tags/politics/index.html')).toBe(false);
  });

  it('writes no page without a page store (feeds only)', async () => {
    const index = new StandInIndex();
    const a = article('a1', '2024-02-01T10:00:00.000Z');
    index.put(a);
    const store = new MemoryStore();
    await createFeedRebuildHandler({ index, store, site })({ Records: [record('INSERT', 'site', a, '1')] });
    expect(store.docs.has('/atom.xml')).toBe(true);
    expect(pagesOf(store)).toEqual([]);
  });
});

describe('escapeHtml', () => {
  it('escapes what each place needs', () => {
    expect(escapeHtml(`<a href="x">Tom's & Jerry's</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom&#39;s &amp; Jerry&#39;s&lt;/a&gt;');
    expect(escapeHtml(`"it's" <b>&`, 'text')).toBe(`"it's" &lt;b&gt;&amp;`);
    expect(escapeHtml(`"it's" <b>&`, 'attribute')).toBe(`&quot;it's&quot; &lt;b&gt;&amp;`);
  });
});
