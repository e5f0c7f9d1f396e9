import type { Article } from '../articles/schema.ts';
import { slugify } from '../articles/slug.ts';

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

/** Parses a request path back into a feed, when it names one of the documents we generate. */
export function isFeedDocumentPath(path: string): boolean {
  return /^(\/(tags|authors)\/[a-z0-9-]+)?(\/feed-archive\/\d{4}-\d{2})?\/(feed\.xml|atom\.xml|feed\.json)$/.test(path);
}
