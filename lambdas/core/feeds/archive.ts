/**
 * The public web archive of digests: one page per digest that went out (the articles it carried, no
 * personal links), an index page, and the archive's own feed in RSS, Atom and JSON Feed.
 */
import { renderFeed } from './index.ts';
import { CONTENT_TYPES, type FeedDocument, type FeedEntry, type FeedFormat } from './model.ts';
import type { SiteConfig } from '../site.ts';
import type { SendDeps } from '../sends/deps.ts';
import type { Send } from '../sends/model.ts';
import type { ArchiveEntry } from '../sends/ports.ts';

/** Digests listed in the archive's feed and index page. */
export const ARCHIVE_FEED_ENTRIES = 50;
export const ARCHIVE_PATHS = { rss: '/archive/feed.xml', atom: '/archive/atom.xml', json: '/archive/feed.json', index: '/archive/index.html' } as const;
export const archivePagePath = (sendId: string) => `/archive/${sendId}/index.html`;
const pageUrl = (site: SiteConfig, path: string) => site.publicUrl + path.replace(/index\.html$/, '');

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
const safeHref = (u: string) => (/^https?:\/\//i.test(u) ? esc(u) : '#');
const longDate = (iso: string) => new Date(iso).toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' });

export function archiveTitle(site: SiteConfig, frequency: 'daily' | 'weekly', windowEnd: string): string {
  return `${site.title}: ${frequency === 'weekly' ? 'weekly' : 'daily'} digest of ${longDate(windowEnd)}`;
}

function articleList(entry: ArchiveEntry): string {
  return entry.articles
    .map((a) => `<article><h2><a href="${safeHref(a.url)}">${esc(a.title)}</a></h2><p><time datetime="${esc(a.publishedAt)}">${esc(longDate(a.publishedAt))}</time></p><p>${esc(a.summary)}</p></article>`)
    .join('\n');
}

function page(site: SiteConfig, title: string, body: string): string {
  return `<!doctype html>
<html lang="${esc(site.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title>
<link rel="alternate" type="application/rss+xml" title="${esc(site.title)}: digest archive" href="${esc(site.publicUrl + ARCHIVE_PATHS.rss)}">
<link rel="alternate" type="application/atom+xml" title="${esc(site.title)}: digest archive" href="${esc(site.publicUrl + ARCHIVE_PATHS.atom)}">
<link rel="alternate" type="application/feed+json" title="${esc(site.title)}: digest archive" href="${esc(site.publicUrl + ARCHIVE_PATHS.json)}">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1f2328}a{color:#1a56db}time{color:#6b7280}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** The page of one digest: what went out, without anyone's name or links. */
export function renderArchivePage(site: SiteConfig, entry: ArchiveEntry): string {
  const intro = entry.intro ? `<p>${esc(entry.intro)}</p>\n` : '';
  return page(
    site,
    entry.title,
    `<p><a href="${esc(pageUrl(site, ARCHIVE_PATHS.index))}">All digests</a> · <a href="${esc(site.siteUrl)}/">${esc(site.title)}</a></p>
<h1>${esc(entry.title)}</h1>
${intro}${articleList(entry)}`,
  );
}

export function renderArchiveIndex(site: SiteConfig, entries: ArchiveEntry[]): string {
  const items = entries.map((e) => `<li><a href="${esc(pageUrl(site, e.path))}">${esc(e.title)}</a> (${e.articles.length} ${e.articles.length === 1 ? 'article' : 'articles'})</li>`).join('\n');
  return page(site, `${site.title}: digest archive`, `<h1>${esc(site.title)}: digest archive</h1>\n<ul>\n${items}\n</ul>`);
}

export function archiveFeed(site: SiteConfig, entries: ArchiveEntry[]): FeedDocument {
  const feedEntries: FeedEntry[] = entries.map((e) => ({
    id: `tag:${site.tagAuthority},${site.tagDate}:digest:${e.sendId}`,
    title: e.title,
    url: pageUrl(site, e.path),
    contentHtml: (e.intro ? `<p>${esc(e.intro)}</p>\n` : '') + articleList(e),
    summary: e.articles.map((a) => a.title).join(' · '),
    publishedAt: e.sentAt,
    updatedAt: e.sentAt,
    authors: [],
    categories: [{ label: e.frequency === 'weekly' ? 'Weekly digest' : 'Daily digest', term: e.frequency, scheme: `${site.publicUrl}/archive/` }],
  }));
  const epoch = site.tagDate.length === 4 ? `${site.tagDate}-01-01T00:00:00.000Z` : `${site.tagDate.slice(0, 10)}T00:00:00.000Z`;
  return {
    kind: 'subscription',
    id: `tag:${site.tagAuthority},${site.tagDate}:feed:digest-archive`,
    title: `${site.title}: digest archive`,
    description: `Every digest ${site.title} has sent, as it went out`,
    language: site.language,
    homeUrl: pageUrl(site, ARCHIVE_PATHS.index),
    self: { rss: site.publicUrl + ARCHIVE_PATHS.rss, atom: site.publicUrl + ARCHIVE_PATHS.atom, json: site.publicUrl + ARCHIVE_PATHS.json },
    updated: feedEntries.reduce((max, e) => (e.updatedAt > max ? e.updatedAt : max), epoch),
    copyright: site.copyright,
    generator: { name: 'Inkwire', uri: `${site.publicUrl}/api/docs`, version: '0.1.0' },
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
  await deps.store.put({ path: ARCHIVE_PATHS.index, body: renderArchiveIndex(deps.site, entries), contentType: 'text/html; charset=utf-8', lastModified: doc.updated });
  await deps.sends.setArchivePath(send.id, path);
  return path;
}
