import type { Article } from '../articles/schema.ts';
import type { SiteConfig } from '../site.ts';
import { archivePaths, feedEpoch, feedGenerator, subscriptionPaths, type DocumentPaths, type FeedKey } from './feeds.ts';
import type { DocumentStore, FeedEntryRef, FeedIndex, HubNotifier } from './ports.ts';
import { CONTENT_TYPES, type FeedDocument, type FeedEntry, type FeedFormat, type FormatLinks } from './model.ts';
import { renderFeed } from './index.ts';
import { slugify } from '../articles/slug.ts';

// The ports live in ports.ts; re-exported for the modules that import them from here.
export type { DocumentStore, FeedEntryRef, FeedIndex, HubNotifier, ReadableDocumentStore, StoredDocumentInput } from './ports.ts';

/** What a feed rebuild reads, writes and notifies. */
export interface FeedRebuildDeps {
  index: FeedIndex;
  store: DocumentStore;
  site: SiteConfig;
  /** Pinged with the changed subscription documents when the site has a WebSub hub. */
  hub?: HubNotifier | undefined;
}

/** What one rebuild did. */
export interface RebuildReport {
  /** Paths whose bytes changed. */
  written: string[];
  /** Documents rendered whose bytes were already stored. */
  unchanged: number;
  /** Archive pages removed (their month emptied). */
  deleted: string[];
}

const FORMATS: FeedFormat[] = ['rss', 'atom', 'json'];
const MAX_ATTEMPTS = 5;

const absolute = (site: SiteConfig, p: DocumentPaths): FormatLinks => ({
  rss: site.publicUrl + p.rss,
  atom: site.publicUrl + p.atom,
  json: site.publicUrl + p.json,
});

export const articleTagUri = (site: SiteConfig, id: string) => `tag:${site.tagAuthority},${site.tagDate}:article:${id}`;
const feedTagUri = (site: SiteConfig, feed: FeedKey) => `tag:${site.tagAuthority},${site.tagDate}:feed:${feed}`;

export function toFeedEntry(site: SiteConfig, a: Article): FeedEntry {
  return {
    id: articleTagUri(site, a.id),
    title: a.title,
    url: a.url,
    contentHtml: a.contentHtml,
    summary: a.summary,
    publishedAt: a.publishedAt ?? a.createdAt,
    updatedAt: a.updatedAt,
    // An author's address is published only when the publisher said so for that author.
    authors: a.authors.map((p) => ({ name: p.name, email: p.publishEmail === true ? p.email : undefined, url: p.url })),
    categories: a.tags.map((t) => ({ label: t.name, term: t.slug, scheme: `${site.publicUrl}/tags/` })),
  };
}

function feedTitle(site: SiteConfig, feed: FeedKey, articles: Article[]): { title: string; description: string } {
  if (feed === 'site') return { title: site.title, description: site.description };
  const slug = feed.slice(feed.indexOf(':') + 1);
  if (feed.startsWith('tag:')) {
    const label = articles.flatMap((a) => a.tags).find((t) => t.slug === slug)?.name ?? slug;
    return { title: `${site.title}: ${label}`, description: `Articles tagged “${label}” from ${site.title}` };
  }
  const name = articles.flatMap((a) => a.authors).find((p) => slugify(p.name, 60) === slug)?.name ?? slug;
  return { title: `${site.title}: ${name}`, description: `Articles by ${name} from ${site.title}` };
}

function buildDocument(
  deps: FeedRebuildDeps,
  feed: FeedKey,
  kind: FeedDocument['kind'],
  self: DocumentPaths,
  articles: Article[],
  links: { prev?: DocumentPaths | undefined; next?: DocumentPaths | undefined },
): FeedDocument {
  const { site } = deps;
  const entries = articles.map((a) => toFeedEntry(site, a));
  const updated = entries.reduce((max, e) => (e.updatedAt > max ? e.updatedAt : max), feedEpoch(site));
  const { title, description } = feedTitle(site, feed, articles);
  return {
    kind,
    id: feedTagUri(site, feed),
    title,
    description,
    language: site.language,
    homeUrl: `${site.siteUrl}/`,
    self: absolute(site, self),
    current: kind === 'archive' ? absolute(site, subscriptionPaths(feed)) : undefined,
    prevArchive: links.prev ? absolute(site, links.prev) : undefined,
    nextArchive: links.next ? absolute(site, links.next) : undefined,
    hub: kind === 'subscription' ? site.websubHub : undefined,
    updated,
    copyright: site.copyright,
    generator: feedGenerator(site),
    iconUrl: site.iconUrl,
    logoUrl: site.logoUrl,
    entries,
  };
}

const fingerprint = (refs: FeedEntryRef[]) => refs.map((r) => `${r.publishedAt}#${r.articleId}#${r.rev}`).join('|');

async function loadArticles(deps: FeedRebuildDeps, refs: FeedEntryRef[]): Promise<Article[]> {
  const found = await deps.index.articles(refs.map((r) => r.articleId));
  // An entry whose article vanished between the two reads is left out; the delete's own stream
  // record triggers another rebuild.
  return refs
    .map((r) => found.get(r.articleId))
    .filter((a): a is Article => a !== undefined && a.status === 'published')
    .sort((a, b) => (b.publishedAt! < a.publishedAt! ? -1 : b.publishedAt! > a.publishedAt! ? 1 : b.id < a.id ? -1 : 1));
}

async function writeAll(deps: FeedRebuildDeps, doc: FeedDocument, paths: DocumentPaths, report: RebuildReport): Promise<string[]> {
  const changed: string[] = [];
  for (const format of FORMATS) {
    const path = paths[format];
    const wrote = await deps.store.put({ path, body: renderFeed(doc, format), contentType: CONTENT_TYPES[format], lastModified: doc.updated });
    if (wrote) {
      report.written.push(path);
      changed.push(path);
    } else report.unchanged++;
  }
  return changed;
}

/**
 * Rewrites a feed's subscription documents (newest N entries) in all three formats.
 *
 * Two rebuilds of one feed may run at once (stream shards in AWS). Each one re-reads the feed's
 * entries after writing and starts over when they moved, so the last write always reflects the latest
 * state: no publish is lost, whatever the interleaving.
 */
async function rebuildSubscription(deps: FeedRebuildDeps, feed: FeedKey, report: RebuildReport): Promise<void> {
  const paths = subscriptionPaths(feed);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const refs = await deps.index.newest(feed, deps.site.feedItemLimit);
    const articles = await loadArticles(deps, refs);
    const newestMonth = refs[0]?.publishedAt.slice(0, 7);
    const doc = buildDocument(deps, feed, 'subscription', paths, articles, { prev: newestMonth ? archivePaths(feed, newestMonth) : undefined });
    const changed = await writeAll(deps, doc, paths, report);
    const after = await deps.index.newest(feed, deps.site.feedItemLimit);
    if (fingerprint(after) === fingerprint(refs)) {
      if (changed.length > 0 && deps.hub && deps.site.websubHub) await deps.hub.publish(changed.map((p) => deps.site.publicUrl + p));
      return;
    }
  }
}

/** Rewrites one month's archive page; answers how many entries it holds. */
async function rebuildMonth(deps: FeedRebuildDeps, feed: FeedKey, month: string, report: RebuildReport): Promise<number> {
  const paths = archivePaths(feed, month);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const refs = await deps.index.month(feed, month);
    if (refs.length === 0) {
      for (const f of FORMATS) {
        await deps.store.delete(paths[f]);
        report.deleted.push(paths[f]);
      }
      return 0;
    }
    const [before, after, articles] = await Promise.all([deps.index.monthBefore(feed, month), deps.index.monthAfter(feed, month), loadArticles(deps, refs)]);
    const doc = buildDocument(deps, feed, 'archive', paths, articles, {
      prev: before ? archivePaths(feed, before) : undefined,
      next: after ? archivePaths(feed, after) : undefined,
    });
    await writeAll(deps, doc, paths, report);
    if (fingerprint(await deps.index.month(feed, month)) === fingerprint(refs)) return refs.length;
  }
  return -1;
}

/**
 * Rebuilds the given feeds: each one's subscription documents, and the archive pages of the months
 * whose entries changed. When a month page appears or disappears, its neighbours are rewritten too so
 * their prev/next links stay right. Cost depends on N and on the changed months, never on the size
 * of the archive.
 */
export async function rebuildFeeds(deps: FeedRebuildDeps, targets: Map<FeedKey, Set<string>>): Promise<RebuildReport> {
  const report: RebuildReport = { written: [], unchanged: 0, deleted: [] };
  for (const [feed, months] of targets) {
    await rebuildSubscription(deps, feed, report);
    const neighbours = new Set<string>();
    for (const month of months) {
      const count = await rebuildMonth(deps, feed, month, report);
      if (count <= 1) {
        const [before, after] = await Promise.all([deps.index.monthBefore(feed, month), deps.index.monthAfter(feed, month)]);
        if (before) neighbours.add(before);
        if (after) neighbours.add(after);
      }
    }
    for (const month of neighbours) if (!months.has(month)) await rebuildMonth(deps, feed, month, report);
  }
  return report;
}
