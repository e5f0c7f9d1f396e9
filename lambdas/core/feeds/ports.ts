/**
 * What a rebuild reads and where it writes: the ports of feed (and site page) generation. The DynamoDB
 * article repository implements {@link FeedIndex}; S3 and a local folder implement {@link DocumentStore}.
 */
import type { Article } from '../articles/schema.ts';
import type { FeedKey } from './feeds.ts';

/** A feed entry's place in its feed: which article, when, at which revision. */
export interface FeedEntryRef {
  articleId: string;
  /** ISO 8601 date the entry sorts by (the article's `publishedAt`). */
  publishedAt: string;
  /** The article's version when the entry was written: it changes on every edit of a published article. */
  rev: number;
}

/** What a rebuild reads. Reads must be strongly consistent: a rebuild that follows a write must see it. */
export interface FeedIndex {
  /** The feed's newest `limit` entries, newest first (fewer when the feed holds fewer). */
  newest(feed: FeedKey, limit: number): Promise<FeedEntryRef[]>;
  /** Every entry of one calendar month (`YYYY-MM`), newest first. */
  month(feed: FeedKey, month: string): Promise<FeedEntryRef[]>;
  /** The newest month (`YYYY-MM`) older than `month` that holds an entry of the feed; undefined when none does. */
  monthBefore(feed: FeedKey, month: string): Promise<string | undefined>;
  /** The oldest month (`YYYY-MM`) newer than `month` that holds an entry of the feed; undefined when none does. */
  monthAfter(feed: FeedKey, month: string): Promise<string | undefined>;
  /** The articles with these ids (any status; ids of deleted articles are absent from the map). */
  articles(ids: string[]): Promise<Map<string, Article>>;
}

/** One generated document to store. */
export interface StoredDocumentInput {
  /** URL path, e.g. `/tags/politics/atom.xml`. */
  path: string;
  body: string;
  contentType: string;
  /** ISO date of the content (its newest entry), kept as metadata. Last-Modified is the write time. */
  lastModified: string;
}

/** Where generated documents go (S3 in AWS, a folder locally). Readers never touch the database. */
export interface DocumentStore {
  /** Writes the document unless identical bytes are already stored; answers whether it changed. */
  put(doc: StoredDocumentInput): Promise<boolean>;
  /** Removes the document; removing one that is not there is no error. */
  delete(path: string): Promise<void>;
}

/**
 * Reads stored documents with what HTTP needs to serve them (ETag, Last-Modified): the local runtime's
 * server uses it; in AWS CloudFront reads the bucket itself.
 */
export interface DocumentReader {
  /** The document at a URL path (`/feed.xml`), or undefined when there is none. */
  get(path: string): Promise<{ body: Buffer; contentType: string; etag: string; lastModified: Date } | undefined>;
}

/** A document store the site rebuild can also read back from (its own small records, the archive index). */
export interface ReadableDocumentStore extends DocumentStore {
  /** The stored text at `path`, or undefined when there is none. */
  read(path: string): Promise<string | undefined>;
}

/** Tells a WebSub hub that documents changed. */
export interface HubNotifier {
  /** Pings the hub once for these absolute document URLs. */
  publish(urls: string[]): Promise<void>;
}
