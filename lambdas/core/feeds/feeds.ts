import type { Article } from '../articles/schema.ts';
import { slugify } from '../articles/slug.ts';
import type { SiteConfig } from '../site.ts';

/** A feed is the whole site, one tag, or one author. */
export type FeedKey = 'site' | `tag:${string}` | `author:${string}`;

/** The feeds a published article belongs to; none while it is a draft or scheduled. */
export function feedsOf(article: Pick<Article, 'status' | 'tags' | 'authors'>): FeedKey[] {
  if (article.status !== 'published') return [];
  const feeds = new Set<FeedKey>(['site']);
  for (const t of article.tags) feeds.add(`tag:${t.slug}`);
  for (const a of article.authors) feeds.add(`author:${slugify(a.name, 60)}`);
  return [...feeds];
}

/** URL path prefix of a feed's documents: `` (site), `/tags/{slug}`, `/authors/{slug}`. */
export function feedBasePath(feed: FeedKey): string {
  if (feed === 'site') return '';
  const [kind, slug] = [feed.slice(0, feed.indexOf(':')), feed.slice(feed.indexOf(':') + 1)];
  return kind === 'tag' ? `/tags/${slug}` : `/authors/${slug}`;
}

export interface DocumentPaths {
  rss: string;
  atom: string;
  json: string;
}

/** Paths of a feed's subscription documents, e.g. `/tags/politics/atom.xml`. */
export function subscriptionPaths(feed: FeedKey): DocumentPaths {
  const base = feedBasePath(feed);
  return { rss: `${base}/feed.xml`, atom: `${base}/atom.xml`, json: `${base}/feed.json` };
}

/** Paths of one RFC 5005 archive page (a calendar month, `YYYY-MM`). */
export function archivePaths(feed: FeedKey, month: string): DocumentPaths {
  const base = `${feedBasePath(feed)}/feed-archive/${month}`;
  return { rss: `${base}/feed.xml`, atom: `${base}/atom.xml`, json: `${base}/feed.json` };
}

/** The fixed date an empty feed reports (the start of TAG_DATE), so an empty feed is byte-stable too. */
export function feedEpoch(site: Pick<SiteConfig, 'tagDate'>): string {
  return site.tagDate.length === 4 ? `${site.tagDate}-01-01T00:00:00.000Z` : `${site.tagDate.slice(0, 10)}T00:00:00.000Z`;
}

/** The generator every document names (feeds, the digest archive's feed, site pages). */
export function feedGenerator(site: Pick<SiteConfig, 'publicUrl'>): { name: string; uri: string; version: string } {
  return { name: 'Inkwire', uri: `${site.publicUrl}/api/docs`, version: '0.1.0' };
}
