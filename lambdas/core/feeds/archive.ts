/**
 * The public web archive of digests: one page per digest that went out (the articles it carried, no
 * personal links), an index page, and the archive's own feed in RSS, Atom and JSON Feed.
 */
import { renderFeed } from './index.ts';
import { CONTENT_TYPES, type FeedDocument, type FeedEntry, type FeedFormat } from './model.ts';
import { feedEpoch, feedGenerator } from './feeds.ts';
import type { SiteConfig } from '../site.ts';
import type { SendDeps } from '../sends/deps.ts';
import type { Send } from '../sends/model.ts';
import type { ArchiveEntry } from '../sends/ports.ts';
import { escapeHtml } from '../html.ts';
import { SiteRenderer } from '../site/render.ts';

/** Digests listed in the archive's feed and index page. */
export const ARCHIVE_FEED_ENTRIES = 50;
export const ARCHIVE_PATHS = { rss: '/archive/feed.xml', atom: '/archive/atom.xml', json: '/archive/feed.json', index: '/archive/index.html' } as const;
export const archivePagePath = (sendId: string) => `/archive/${sendId}/index.html`;
const pageUrl = (site: SiteConfig, path: string) => site.publicUrl + path.replace(/index\.html$/, '');
const urlPath = (path: string) => path.replace(/index\.html$/, '');

const safeHref = (u: string) => (/^https?:\/\//i.test(u) ? escapeHtml(u) : '#');
const longDate = (iso: string) => new Date(iso).toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });

export function archiveTitle(site: SiteConfig, frequency: 'daily' | 'weekly', windowEnd: string): string {
  return `${site.title}: ${frequency === 'weekly' ? 'weekly' : 'daily'} digest of ${longDate(windowEnd)}`;
}

/** The digest's articles as HTML, for the archive's feed entries. */
function articleList(entry: ArchiveEntry): string {
  return entry.articles
    .map(
      (a) =>
        `<article><h2><a href="${safeHref(a.url)}">${escapeHtml(a.title)}</a></h2><p><time datetime="${escapeHtml(a.publishedAt)}">${escapeHtml(longDate(a.publishedAt))}</time></p><p>${escapeHtml(a.summary)}</p></article>`,
    )
    .join('\n');
}

/** The page of one digest: what went out, without anyone's name or links, in the look of the site's pages. */
export function renderArchivePage(site: SiteConfig, entry: ArchiveEntry): string {
  return new SiteRenderer(site).archiveDigest(ARCHIVE_PATHS, urlPath(entry.path), { title: entry.title, intro: entry.intro, articles: entry.articles });
}

/** The archive's index page, in the look of the site's pages (the home page links to it). */
export function renderArchiveIndex(site: SiteConfig, entries: ArchiveEntry[]): string {
  return new SiteRenderer(site).archiveIndex(
    ARCHIVE_PATHS,
    entries.map((e) => ({ title: e.title, path: urlPath(e.path), count: e.articles.length })),
  );
}

export function archiveFeed(site: SiteConfig, entries: ArchiveEntry[]): FeedDocument {
  const feedEntries: FeedEntry[] = entries.map((e) => ({
    id: `tag:${site.tagAuthority},${site.tagDate}:digest:${e.sendId}`,
    title: e.title,
    url: pageUrl(site, e.path),
    contentHtml: (e.intro ? `<p>${escapeHtml(e.intro)}</p>\n` : '') + articleList(e),
    summary: e.articles.map((a) => a.title).join(' · '),
    publishedAt: e.sentAt,
    updatedAt: e.sentAt,
    authors: [],
    categories: [{ label: e.frequency === 'weekly' ? 'Weekly digest' : 'Daily digest', term: e.frequency, scheme: `${site.publicUrl}/archive/` }],
  }));
  return {
    kind: 'subscription',
    id: `tag:${site.tagAuthority},${site.tagDate}:feed:digest-archive`,
    title: `${site.title}: digest archive`,
    description: `Every digest ${site.title} has sent, as it went out`,
    language: site.language,
    homeUrl: pageUrl(site, ARCHIVE_PATHS.index),
    self: { rss: site.publicUrl + ARCHIVE_PATHS.rss, atom: site.publicUrl + ARCHIVE_PATHS.atom, json: site.publicUrl + ARCHIVE_PATHS.json },
    updated: feedEntries.reduce((max, e) => (e.updatedAt > max ? e.updatedAt : max), feedEpoch(site)),
    copyright: site.copyright,
    generator: feedGenerator(site),
    iconUrl: site.iconUrl,
    logoUrl: site.logoUrl,
    entries: feedEntries,
  };
}

/**
 * Writes a completed digest's archive page, then the archive index and feeds. Idempotent: a retried
 * stream record rewrites the same bytes.
 */
export async function writeArchive(deps: SendDeps, send: Send): Promise<string | undefined> {
  const content = await deps.sends.getContent(send.id);
  if (!deps.store || !content || content.kind !== 'digest') return undefined;
  const sent = new Set(send.sentArticles ?? []);
  const articles = sent.size > 0 ? content.articles.filter((a) => sent.has(a.id)) : content.articles;
  const path = archivePagePath(send.id);
  const sentAt = send.completedAt ?? send.updatedAt ?? content.windowEnd;
  const entry: ArchiveEntry = {
    sendId: send.id,
    frequency: content.period,
    sentAt,
    path,
    title: archiveTitle(deps.site, content.period, content.windowEnd),
    intro: send.intro,
    articles: articles.map((a) => ({ title: a.title, url: a.url, summary: a.summary, publishedAt: a.publishedAt })),
  };
  await deps.store.put({ path, body: renderArchivePage(deps.site, entry), contentType: 'text/html; charset=utf-8', lastModified: sentAt });
  await deps.sends.putArchiveEntry(entry);
  const entries = await deps.sends.listArchive(ARCHIVE_FEED_ENTRIES);
  const doc = archiveFeed(deps.site, entries);
  for (const format of ['rss', 'atom', 'json'] as FeedFormat[]) {
    await deps.store.put({ path: ARCHIVE_PATHS[format], body: renderFeed(doc, format), contentType: CONTENT_TYPES[format], lastModified: doc.updated });
  }
  await deps.store.put({
    path: ARCHIVE_PATHS.index,
    body: renderArchiveIndex(deps.site, entries),
    contentType: 'text/html; charset=utf-8',
    lastModified: doc.updated,
  });
  await deps.sends.setArchivePath(send.id, path);
  return path;
}
