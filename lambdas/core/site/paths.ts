/**
 * Where each page of the public site lives. A page is stored as `<dir>/index.html` and linked as `<dir>/`
 * (CloudFront's viewer-request function and the local server map one to the other).
 */
import { slugify } from '../articles/slug.ts';
import { feedBasePath, type FeedKey } from '../feeds/feeds.ts';

/** Articles on a list page (home, tag, author) before its "older" link to a month page. */
export const LIST_PAGE_SIZE = 12;

export const SITE_PATHS = {
  home: '/',
  topics: '/tags/',
  archive: '/archive/',
  notFound: '/404.html',
  robots: '/robots.txt',
  sitemap: '/sitemap.xml',
  /** The sitemap of the pages that are not articles or months: home, topics, newsletter archive. */
  pagesSitemap: '/sitemaps/pages.xml',
} as const;

/** The URL path of a feed's list page (`/`, `/tags/politics/`), or of one of its month pages. */
export function listPath(feed: FeedKey, month?: string): string {
  return `${feedBasePath(feed)}/${month ? `page/${month}/` : ''}`;
}

export const articlePath = (slug: string) => `/articles/${slug}/`;
export const tagPath = (slug: string) => `/tags/${slug}/`;
export const authorPath = (name: string) => `/authors/${slugify(name, 60)}/`;
export const monthSitemapPath = (month: string) => `/sitemaps/${month}.xml`;

/**
 * A small record per published article (its slug), kept beside the pages: a deleted article's feed entries
 * carry only its id, and its page must still be found to be removed.
 */
export const articleRecordPath = (id: string) => `/_site/articles/${id}.json`;

/** The stored document behind a page URL path: `/x/` is `/x/index.html`. */
export const fileOf = (urlPath: string) => (urlPath.endsWith('/') ? `${urlPath}index.html` : urlPath);

export const HTML = 'text/html; charset=utf-8';
export const XML = 'application/xml; charset=utf-8';
export const TEXT = 'text/plain; charset=utf-8';
