/**
 * The public site, written on publish like the feeds: static pages in the document store, so reading the
 * site never runs a function or queries the table.
 *
 * Driven by the same feed entry changes as a feed rebuild, and bounded the same way: a publish rewrites
 * the list page of each feed it touched, the month pages of the months it touched (and their neighbours
 * when a month appears or disappears), the article's page and the pages of its two neighbours, and the
 * month's sitemap. Nothing depends on the size of the archive: list pages are paginated by calendar month
 * (`/page/2024-02/`), so an older page never changes when a new article arrives. Every page is written
 * through {@link DocumentStore.put}, which skips identical bytes.
 */
import type { Article } from '../articles/schema.ts';
import type { SiteConfig } from '../site.ts';
import { feedEpoch, feedsOf as feedsOfArticle, type FeedKey } from '../feeds/feeds.ts';
import type { FeedEntryRef, FeedIndex, ReadableDocumentStore } from '../feeds/ports.ts';
import { ARCHIVE_PATHS, archiveFeed, renderArchiveIndex } from '../feeds/archive.ts';
import { CONTENT_TYPES, renderFeed } from '../feeds/index.ts';
import { escapeHtml } from '../html.ts';
import { SiteRenderer } from './render.ts';
import {
  articlePath,
  articleRecordPath,
  authorPath,
  fileOf,
  HTML,
  LIST_PAGE_SIZE,
  listPath,
  monthSitemapPath,
  SITE_PATHS,
  tagPath,
  TEXT,
  XML,
} from './paths.ts';

/** What a site rebuild reads and writes. */
export interface SiteRebuildDeps {
  index: FeedIndex;
  store: ReadableDocumentStore;
  site: SiteConfig;
}

/** A site feed entry that changed: where it is (or was) in the site's order. */
export interface ChangedEntry {
  articleId: string;
  publishedAt: string;
}

/** What changed: the feeds and months whose entries moved, and the site feed entries themselves. */
export interface SiteChange {
  feeds: Map<FeedKey, Set<string>>;
  entries: ChangedEntry[];
}

export interface SiteReport {
  /** Paths whose bytes changed. */
  written: string[];
  /** Pages rendered whose bytes were already stored. */
  unchanged: number;
  deleted: string[];
}

const MAX_ATTEMPTS = 5;
const sortKey = (r: { publishedAt: string; articleId: string }) => `${r.publishedAt}#${r.articleId}`;
const fingerprint = (refs: FeedEntryRef[]) => refs.map((r) => `${sortKey(r)}#${r.rev}`).join('|');
const newestFirst = (a: Article, b: Article) =>
  sortKey({ publishedAt: b.publishedAt!, articleId: b.id }) < sortKey({ publishedAt: a.publishedAt!, articleId: a.id }) ? -1 : 1;

/** One rebuild's state: the articles read so far (by revision) and what was written. */
class Run {
  readonly report: SiteReport = { written: [], unchanged: 0, deleted: [] };
  readonly render: SiteRenderer;
  private readonly cache = new Map<string, Article | null>();
  private readonly alreadyPut = new Map<string, string>();

  constructor(readonly deps: SiteRebuildDeps) {
    this.render = new SiteRenderer(deps.site);
  }

  /** The published articles of these entries, newest first; read once per revision. */
  async articles(refs: FeedEntryRef[]): Promise<Article[]> {
    const missing = refs.filter((r) => {
      const hit = this.cache.get(r.articleId);
      // An article read as missing is read again: the entry says it exists now.
      return !hit || hit.version !== r.rev;
    });
    if (missing.length) {
      const found = await this.deps.index.articles(missing.map((r) => r.articleId));
      for (const r of missing) this.cache.set(r.articleId, found.get(r.articleId) ?? null);
    }
    return refs
      .map((r) => this.cache.get(r.articleId))
      .filter((a): a is Article => !!a && a.status === 'published' && a.publishedAt !== undefined)
      .sort(newestFirst);
  }

  /** Lets go of the articles read so far (a whole-site build reads every article once). */
  forget(): void {
    this.cache.clear();
    this.alreadyPut.clear();
  }

  /** An article by id, whatever its status (fresh: the cache may hold an older revision). */
  async article(id: string): Promise<Article | undefined> {
    return (await this.deps.index.articles([id])).get(id);
  }

  async put(path: string, body: string, contentType: string, lastModified: string): Promise<void> {
    // Neighbouring changes of one batch render many pages twice (an import of consecutive articles):
    // the same bytes already put in this run cost no second request to the store.
    if (this.alreadyPut.get(path) === body) return;
    this.alreadyPut.set(path, body);
    if (await this.deps.store.put({ path, body, contentType, lastModified })) this.report.written.push(path);
    else this.report.unchanged++;
  }

  async delete(path: string): Promise<void> {
    this.alreadyPut.delete(path);
    await this.deps.store.delete(path);
    this.report.deleted.push(path);
  }
}

const newestDate = (articles: Article[], fallback: string) => articles.reduce((max, a) => (a.updatedAt > max ? a.updatedAt : max), fallback);

function nameOf(feed: FeedKey, articles: Article[], site: SiteConfig): string {
  if (feed === 'site') return site.title;
  const slug = feed.slice(feed.indexOf(':') + 1);
  if (feed.startsWith('tag:')) return articles.flatMap((a) => a.tags).find((t) => t.slug === slug)?.name ?? slug;
  return articles.flatMap((a) => a.authors).find((p) => authorPath(p.name) === `/authors/${slug}/`)?.name ?? slug;
}

/** A feed's list page: its newest articles and a link to the month of the oldest of them. */
async function writeList(run: Run, feed: FeedKey): Promise<void> {
  const { index, site } = run.deps;
  const path = fileOf(listPath(feed));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const refs = await index.newest(feed, LIST_PAGE_SIZE + 1);
    if (refs.length === 0 && feed !== 'site') {
      await run.delete(path);
    } else {
      const articles = await run.articles(refs.slice(0, LIST_PAGE_SIZE));
      const more = refs.length > LIST_PAGE_SIZE;
      // The month page of the oldest article shown: it holds that article and the ones just before it.
      const olderMonth = more ? refs[LIST_PAGE_SIZE - 1]!.publishedAt.slice(0, 7) : undefined;
      const body = run.render.list({
        feed,
        name: nameOf(feed, articles, site),
        articles,
        older: olderMonth ? { path: listPath(feed, olderMonth), label: run.render.monthLabel(olderMonth) } : undefined,
      });
      await run.put(path, body, HTML, newestDate(articles, feedEpoch(site)));
      if (feed === 'site') {
        const tags = new Map<string, string>();
        for (const a of articles) for (const t of a.tags) if (!tags.has(t.slug)) tags.set(t.slug, t.name);
        const sorted = [...tags]
          .map(([slug, name]) => ({ slug, name }))
          .sort((a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.slug < b.slug ? -1 : 1));
        await run.put(fileOf(SITE_PATHS.topics), run.render.topics(sorted), HTML, newestDate(articles, feedEpoch(site)));
      }
    }
    if (fingerprint(await index.newest(feed, LIST_PAGE_SIZE + 1)) === fingerprint(refs)) return;
  }
}

/** One month of a feed; answers how many entries it holds (-1 when it kept moving). */
async function writeMonth(run: Run, feed: FeedKey, month: string): Promise<number> {
  const { index, site } = run.deps;
  const path = fileOf(listPath(feed, month));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const refs = await index.month(feed, month);
    if (refs.length === 0) {
      await run.delete(path);
      if (feed === 'site') await run.delete(monthSitemapPath(month));
      return 0;
    }
    const [before, after, articles] = await Promise.all([index.monthBefore(feed, month), index.monthAfter(feed, month), run.articles(refs)]);
    const body = run.render.list({
      feed,
      month,
      name: nameOf(feed, articles, site),
      articles,
      older: before ? { path: listPath(feed, before), label: run.render.monthLabel(before) } : undefined,
      newer: after ? { path: listPath(feed, after), label: run.render.monthLabel(after) } : undefined,
    });
    await run.put(path, body, HTML, newestDate(articles, feedEpoch(site)));
    if (feed === 'site') await run.put(monthSitemapPath(month), monthSitemap(site, month, articles), XML, newestDate(articles, feedEpoch(site)));
    if (fingerprint(await index.month(feed, month)) === fingerprint(refs)) return refs.length;
  }
  return -1;
}

function urlset(entries: { loc: string; lastmod?: string | undefined }[]): string {
  const urls = entries.map((e) => `<url><loc>${escapeHtml(e.loc)}</loc>${e.lastmod ? `<lastmod>${e.lastmod}</lastmod>` : ''}</url>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${urls.join('\n')}\n</urlset>\n`;
}

/**
 * One month's sitemap: its articles (with their last change) and the month pages of the site and of each
 * topic and author that month. Tag and author pages themselves are listed in the months they appear in.
 */
function monthSitemap(site: SiteConfig, month: string, articles: Article[]): string {
  const at = (path: string) => site.publicUrl + path;
  const lastmod = newestDate(articles, feedEpoch(site));
  const lists = new Map<string, string>([[listPath('site', month), lastmod]]);
  for (const a of articles) {
    const feeds = [...a.tags.map((t) => tagPath(t.slug)), ...a.authors.map((p) => authorPath(p.name))];
    for (const base of feeds) {
      for (const path of [base, `${base}page/${month}/`]) if ((lists.get(path) ?? '') < a.updatedAt) lists.set(path, a.updatedAt);
    }
  }
  return urlset([
    ...articles.map((a) => ({ loc: at(articlePath(a.slug)), lastmod: a.updatedAt })),
    ...[...lists].sort(([x], [y]) => (x < y ? -1 : 1)).map(([path, mod]) => ({ loc: at(path), lastmod: mod })),
  ]);
}

/** The sitemap index: the pages' sitemap and one per month. Rewritten only when a month comes or goes. */
async function writeSitemapIndex(run: Run): Promise<void> {
  const { index, site } = run.deps;
  const months: string[] = [];
  let month = (await index.newest('site', 1))[0]?.publishedAt.slice(0, 7);
  while (month) {
    months.push(month);
    month = await index.monthBefore('site', month);
  }
  const maps = [SITE_PATHS.pagesSitemap, ...months.map(monthSitemapPath)];
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${maps.map((p) => `<sitemap><loc>${escapeHtml(site.publicUrl + p)}</loc></sitemap>`).join('\n')}\n</sitemapindex>\n`;
  await run.put(SITE_PATHS.sitemap, body, XML, feedEpoch(site));
}

/** Pages that do not depend on articles: the 404 page, robots.txt, the pages' sitemap, an empty archive. */
async function writeShell(run: Run): Promise<void> {
  const { site, store } = run.deps;
  await run.put(SITE_PATHS.notFound, run.render.notFound(), HTML, feedEpoch(site));
  const robots =
    site.pages === false ? 'User-agent: *\nDisallow: /_site/\n' : `User-agent: *\nDisallow: /_site/\n\nSitemap: ${site.publicUrl}${SITE_PATHS.sitemap}\n`;
  await run.put(SITE_PATHS.robots, robots, TEXT, feedEpoch(site));
  if (site.pages === false) return;
  await run.put(
    SITE_PATHS.pagesSitemap,
    urlset([SITE_PATHS.home, SITE_PATHS.topics, SITE_PATHS.archive].map((p) => ({ loc: site.publicUrl + p }))),
    XML,
    feedEpoch(site),
  );
  // The home page links to the newsletter archive; until a digest goes out (the send pipeline then writes
  // the real index), it is an empty archive rather than a dead link.
  if ((await store.read(ARCHIVE_PATHS.index)) === undefined) {
    const empty = archiveFeed(site, []);
    for (const format of ['rss', 'atom', 'json'] as const)
      await run.put(ARCHIVE_PATHS[format], renderFeed(empty, format), CONTENT_TYPES[format], empty.updated);
    await run.put(ARCHIVE_PATHS.index, renderArchiveIndex(site, []), HTML, feedEpoch(site));
  }
}

/**
 * The site feed's entries in order (newest first), read a month at a time around a place, so that an
 * article's neighbours can be found without reading the whole feed.
 */
class Timeline {
  private entries: FeedEntryRef[] = [];
  private newestMonth: string | undefined;
  private oldestMonth: string | undefined;
  private newerDone = false;
  private olderDone = false;

  constructor(private readonly index: FeedIndex) {}

  async load(month: string): Promise<void> {
    this.entries = await this.index.month('site', month);
    this.newestMonth = this.oldestMonth = month;
    this.newerDone = this.olderDone = false;
  }

  /** The month's entries as read, to tell later whether they moved. */
  fingerprintOf(month: string): string {
    return fingerprint(this.entries.filter((e) => e.publishedAt.startsWith(month)));
  }

  private async extendNewer(): Promise<boolean> {
    if (this.newerDone) return false;
    const m = await this.index.monthAfter('site', this.newestMonth!);
    if (!m) return !(this.newerDone = true);
    this.entries = [...(await this.index.month('site', m)), ...this.entries];
    this.newestMonth = m;
    return true;
  }

  private async extendOlder(): Promise<boolean> {
    if (this.olderDone) return false;
    const m = await this.index.monthBefore('site', this.oldestMonth!);
    if (!m) return !(this.olderDone = true);
    this.entries = [...this.entries, ...(await this.index.month('site', m))];
    this.oldestMonth = m;
    return true;
  }

  /** The entry just newer than `key` (which need not be in the feed). */
  async newerThan(key: string): Promise<FeedEntryRef | undefined> {
    for (;;) {
      const i = this.entries.findIndex((e) => sortKey(e) <= key);
      const at = (i < 0 ? this.entries.length : i) - 1;
      if (at >= 0) return this.entries[at];
      if (!(await this.extendNewer())) return undefined;
    }
  }

  /** The entry just older than `key`. */
  async olderThan(key: string): Promise<FeedEntryRef | undefined> {
    for (;;) {
      const i = this.entries.findIndex((e) => sortKey(e) < key);
      if (i >= 0) return this.entries[i];
      if (!(await this.extendOlder())) return undefined;
    }
  }

  find(key: string): FeedEntryRef | undefined {
    return this.entries.find((e) => sortKey(e) === key);
  }
}

/**
 * The article pages a changed entry affects: its own (written, or removed when it left the site), and
 * those of the articles just before and after its place, whose previous/next links point at it.
 */
async function writeAround(run: Run, changed: ChangedEntry): Promise<void> {
  const { index, store } = run.deps;
  const month = changed.publishedAt.slice(0, 7);
  const key = sortKey(changed);
  const timeline = new Timeline(index);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    await timeline.load(month);
    const self = timeline.find(key);
    const newer = await timeline.newerThan(key);
    const older = await timeline.olderThan(key);
    const pages = [newer, self, older].filter((r): r is FeedEntryRef => r !== undefined);
    // Each page also names its own neighbours.
    const around = new Map<string, { newer?: FeedEntryRef | undefined; older?: FeedEntryRef | undefined }>();
    for (const r of pages) around.set(r.articleId, { newer: await timeline.newerThan(sortKey(r)), older: await timeline.olderThan(sortKey(r)) });
    const refs = [...pages, ...[...around.values()].flatMap((n) => [n.newer, n.older]).filter((r): r is FeedEntryRef => r !== undefined)];
    const loaded = new Map((await run.articles(refs)).map((a) => [a.id, a]));
    for (const r of pages) {
      const a = loaded.get(r.articleId);
      if (!a) continue;
      const n = around.get(r.articleId)!;
      const body = run.render.article({ article: a, newer: n.newer && loaded.get(n.newer.articleId), older: n.older && loaded.get(n.older.articleId) });
      await run.put(fileOf(articlePath(a.slug)), body, HTML, a.updatedAt);
      await run.put(articleRecordPath(a.id), JSON.stringify({ slug: a.slug }), 'application/json', a.updatedAt);
    }
    if (!self) {
      // Left the site here: unpublished, deleted, or moved to another date (then its new entry writes it).
      const article = await run.article(changed.articleId);
      if (article?.status !== 'published') {
        const record = await store.read(articleRecordPath(changed.articleId));
        const slug = article?.slug ?? (record ? (JSON.parse(record) as { slug?: string }).slug : undefined);
        if (slug) await run.delete(fileOf(articlePath(slug)));
        await run.delete(articleRecordPath(changed.articleId));
      }
    }
    const fresh = new Timeline(index);
    await fresh.load(month);
    if (fresh.fingerprintOf(month) === timeline.fingerprintOf(month)) return;
  }
}

/**
 * Rebuilds the pages that the changed feed entries affect. Does nothing but the 404 page and robots.txt
 * when the site's pages are off (the publisher's own website is the site).
 */
export async function rebuildSite(deps: SiteRebuildDeps, change: SiteChange): Promise<SiteReport> {
  const run = new Run(deps);
  if (change.feeds.has('site') || change.entries.length === 0) await writeShell(run);
  if (deps.site.pages === false) return run.report;
  let monthsMoved = false;
  for (const [feed, months] of change.feeds) {
    await writeList(run, feed);
    const neighbours = new Set<string>();
    for (const month of months) {
      const count = await writeMonth(run, feed, month);
      if (count <= 1) {
        if (feed === 'site') monthsMoved = true;
        const [before, after] = await Promise.all([deps.index.monthBefore(feed, month), deps.index.monthAfter(feed, month)]);
        if (before) neighbours.add(before);
        if (after) neighbours.add(after);
      }
    }
    for (const month of neighbours) if (!months.has(month)) await writeMonth(run, feed, month);
  }
  if (monthsMoved || (change.feeds.has('site') && (await deps.store.read(SITE_PATHS.sitemap)) === undefined)) await writeSitemapIndex(run);
  const seen = new Set<string>();
  for (const entry of change.entries) {
    const key = sortKey(entry);
    if (seen.has(key)) continue;
    seen.add(key);
    await writeAround(run, entry);
  }
  return run.report;
}

/**
 * Writes every page of the site: for a fresh instance, or when the pages are turned on for a site that
 * already has articles. Reads each month of the site feed once, in order, so each article's neighbours
 * come from the months around it; then each topic's and author's list and month pages. Proportional to
 * the archive, unlike {@link rebuildSite}; identical pages are still not rewritten.
 */
export async function rebuildWholeSite(deps: SiteRebuildDeps): Promise<SiteReport> {
  const run = new Run(deps);
  await writeShell(run);
  if (deps.site.pages === false) return run.report;
  const { index } = deps;
  const feeds = new Map<FeedKey, Set<string>>();
  const writePage = async (a: Article, newer: Article | undefined, older: Article | undefined) => {
    await run.put(fileOf(articlePath(a.slug)), run.render.article({ article: a, newer, older }), HTML, a.updatedAt);
    await run.put(articleRecordPath(a.id), JSON.stringify({ slug: a.slug }), 'application/json', a.updatedAt);
  };
  let newer: Article | undefined;
  let current: Article | undefined;
  let month = (await index.newest('site', 1))[0]?.publishedAt.slice(0, 7);
  while (month) {
    const articles = await run.articles(await index.month('site', month));
    for (const a of articles) {
      if (current) await writePage(current, newer, a);
      newer = current;
      current = a;
      for (const feed of feedsOfArticle(a)) {
        if (feed === 'site') continue;
        if (!feeds.has(feed)) feeds.set(feed, new Set());
        feeds.get(feed)!.add(month);
      }
    }
    await writeMonth(run, 'site', month);
    run.forget();
    month = await index.monthBefore('site', month);
  }
  if (current) await writePage(current, newer, undefined);
  await writeList(run, 'site');
  for (const [feed, months] of feeds) {
    await writeList(run, feed);
    for (const m of months) await writeMonth(run, feed, m);
    run.forget();
  }
  await writeSitemapIndex(run);
  return run.report;
}
