/**
 * Every key of the single table is built here and nowhere else. Each key starts with its entity's
 * prefix, and each item carries an `entity` attribute, so a stream consumer or a scan can tell items apart.
 *
 * Layout (PK / SK):
 * - Article            ARTICLE#<id>              / ARTICLE           GSI1: ARTICLES / <createdAt>#<id>
 *                                                                     GSI2 (scheduled only): SCHEDULED / <publishAt>#<id>
 * - Feed entry         FEED#<feedKey>            / E#<publishedAt>#<articleId>
 *   (one per feed an article belongs to while published; its stream events drive feed rebuilds)
 * - Slug claim         SLUG#<slug>               / SLUG              (an article URL is never reused)
 * - Idempotency record IDEMP#<scope>#<key>       / IDEMP             TTL
 * - Subscriber         SUB#<id>                  / SUB               GSI1: SUBS#<status> / <createdAt>#<id>
 *                                                                     GSI2 (confirmed, not paused): AUD#<frequency> / <id>
 * - Digest dates       SUB#<id>                  / DIGESTS           TTL (when each digest last went to the
 *                                                                     subscriber; apart from the subscriber item, so moving it rewrites no index entry)
 * - Email claim        EMAIL#<sha256(email)>     / EMAIL             (uniqueness of an address)
 * - Suppression        SUPPRESS#<sha256(email)>  / SUPPRESS
 * - Send               SEND#<id>                 / SEND              GSI1: SENDS / <createdAt>#<id>
 * - Delivery           SEND#<id>                 / D#<subscriberId>     GSI3 (keys only): DELIVERED#<subscriberId> / <claimedAt>#<sendId>
 * - Send content       SEND#<id>                 / CONTENT           (frozen once when planning starts)
 * - Batch tally        SEND#<id>                 / B#<generation>#<batchId>  TTL (a batch is counted once)
 * - Digest archive     ARCHIVE#digests           / A#<sentAt>#<sendId>       (the web archive's index)
 * - Rate window        RATE#<scope>#<key>        / W#<windowStart>   TTL
 * - Seen message       SEEN#<source>#<id>        / SEEN              TTL (replay protection)
 * - Subscriber job     JOB#<id>                  / JOB               TTL (a CSV import or export job: status, progress, report)
 * - Sending instants   PACE#<account>            / PACE              (the next free instant of the SES account's rate, shared by every sender)
 * - Ended session     CONSOLE#<nonce>           / REVOKED           TTL (a console session signed out before it expired)
 * - Growth mark       GROWTH#<shard>            / <day>#<kind>#<subscriberId>#<version>  TTL (one change of the confirmed list)
 */

export type Key = { PK: string; SK: string };

import type { FeedKey } from '../../core/feeds/feeds.ts';
export type { FeedKey };

/**
 * Sort keys of a feed partition are `E#<publishedAt>#<articleId>`, and an ISO date sorts before `~`, so
 * `E#<prefix>~` is past every entry whose date starts with `<prefix>`.
 */
const FEED_ENTRY = 'E#';
const AFTER = '~';

export const keys = {
  article: (id: string): Key => ({ PK: `ARTICLE#${id}`, SK: 'ARTICLE' }),
  /** GSI1 partition of every article, newest `createdAt` last. */
  articleListPartition: 'ARTICLES',
  articleListGsi1: (createdAt: string, id: string) => ({ GSI1PK: keys.articleListPartition, GSI1SK: `${createdAt}#${id}` }),
  /** GSI2 partition of scheduled articles, by `publishAt`. */
  scheduledPartition: 'SCHEDULED',
  scheduledGsi2: (publishAt: string, id: string) => ({ GSI2PK: keys.scheduledPartition, GSI2SK: `${publishAt}#${id}` }),
  /** The highest GSI2SK of an article due at `now` (inclusive bound: `<publishAt>#<id>` sorts below it when publishAt <= now). */
  scheduledDueBy: (now: string): string => `${now}#${AFTER}`,

  feedPartition: (feed: FeedKey): string => `FEED#${feed}`,
  feedEntry: (feed: FeedKey, publishedAt: string, articleId: string): Key => ({
    PK: keys.feedPartition(feed),
    SK: `${FEED_ENTRY}${publishedAt}#${articleId}`,
  }),
  /**
   * Inclusive sort-key bounds of feed entries in a feed partition: all of them, one calendar month's
   * (UTC, `YYYY-MM`), those of months before one (up to its first entry), or those after one.
   */
  feedEntries: {
    all: () => ({ from: FEED_ENTRY, to: `${FEED_ENTRY}${AFTER}` }),
    month: (month: string) => ({ from: `${FEED_ENTRY}${month}`, to: `${FEED_ENTRY}${month}${AFTER}` }),
    before: (month: string) => ({ from: FEED_ENTRY, to: `${FEED_ENTRY}${month}` }),
    after: (month: string) => ({ from: `${FEED_ENTRY}${month}${AFTER}`, to: `${FEED_ENTRY}${AFTER}` }),
  },

  idempotency: (scope: string, key: string): Key => ({ PK: `IDEMP#${scope}#${key}`, SK: 'IDEMP' }),

  subscriber: (id: string): Key => ({ PK: `SUB#${id}`, SK: 'SUB' }),
  subscriberDigests: (id: string): Key => ({ PK: `SUB#${id}`, SK: 'DIGESTS' }),
  /** GSI1 partition of the subscribers with one status. */
  subscriberStatusPartition: (status: string): string => `SUBS#${status}`,
  subscriberStatusGsi1: (status: string, createdAt: string, id: string) => ({
    GSI1PK: keys.subscriberStatusPartition(status),
    GSI1SK: `${createdAt}#${id}`,
  }),
  /** GSI2 partition of the sending audience of one frequency. */
  audiencePartition: (frequency: string): string => `AUD#${frequency}`,
  audienceGsi2: (frequency: string, id: string) => ({ GSI2PK: keys.audiencePartition(frequency), GSI2SK: id }),
  emailClaim: (emailHash: string): Key => ({ PK: `EMAIL#${emailHash}`, SK: 'EMAIL' }),
  suppression: (emailHash: string): Key => ({ PK: `SUPPRESS#${emailHash}`, SK: 'SUPPRESS' }),

  send: (id: string): Key => ({ PK: `SEND#${id}`, SK: 'SEND' }),
  /** GSI1 partition of every send. */
  sendListPartition: 'SENDS',
  sendListGsi1: (createdAt: string, id: string) => ({ GSI1PK: keys.sendListPartition, GSI1SK: `${createdAt}#${id}` }),
  delivery: (sendId: string, subscriberId: string): Key => ({ PK: `SEND#${sendId}`, SK: `${keys.deliveryPrefix}${subscriberId}` }),
  /** Sort-key prefix of a send's deliveries. */
  deliveryPrefix: 'D#',
  /** GSI3 partition of one subscriber's delivery records, by when each was created: their send history. */
  subscriberDeliveriesPartition: (subscriberId: string): string => `DELIVERED#${subscriberId}`,
  subscriberDeliveryGsi3: (subscriberId: string, claimedAt: string, sendId: string) => ({
    GSI3PK: keys.subscriberDeliveriesPartition(subscriberId),
    GSI3SK: `${claimedAt}#${sendId}`,
  }),
  sendContent: (id: string): Key => ({ PK: `SEND#${id}`, SK: 'CONTENT' }),
  /** What the provider reported about one recipient's message (one attribute per kind, set once). */
  sendReport: (sendId: string, subscriberId: string): Key => ({ PK: `SEND#${sendId}`, SK: `R#${subscriberId}` }),
  /** One of a send's report counters: spread over `REPORT_SHARDS` items so that concurrent reports seldom meet on one. */
  sendReportCount: (sendId: string, shard: number): Key => ({ PK: `SEND#${sendId}`, SK: `RC#${shard}` }),
  batchTally: (sendId: string, generation: number, batchId: string): Key => ({ PK: `SEND#${sendId}`, SK: `B#${generation}#${batchId}` }),
  digestArchivePartition: 'ARCHIVE#digests',
  digestArchiveEntry: (sentAt: string, sendId: string): Key => ({ PK: keys.digestArchivePartition, SK: `${keys.digestArchiveEntryPrefix}${sentAt}#${sendId}` }),
  /** Sort-key prefix of the digest archive's entries. */
  digestArchiveEntryPrefix: 'A#',
  /** One change of the confirmed list, in its subscriber's shard of the growth marks, sorted by day. */
  growthMark: (m: { day: string; kind: string; subscriberId: string; version: number }): Key => ({
    PK: keys.growthPartition(shardOf(m.subscriberId, GROWTH_SHARDS)),
    SK: `${m.day}#${m.kind}#${m.subscriberId}#${m.version}`,
  }),
  growthPartition: (shard: number): string => `GROWTH#${shard}`,
  /** A console session ended by signing out (kept until it would have expired). */
  consoleSessionRevoked: (nonce: string): Key => ({ PK: `CONSOLE#${nonce}`, SK: 'REVOKED' }),

  rateWindow: (scope: string, key: string, windowStart: number): Key => ({
    PK: `RATE#${scope}#${key}`,
    SK: `W#${windowStart}`,
  }),
  slug: (slug: string): Key => ({ PK: `SLUG#${slug}`, SK: 'SLUG' }),
  seen: (source: string, id: string): Key => ({ PK: `SEEN#${source}#${id}`, SK: 'SEEN' }),
  subscriberJob: (id: string): Key => ({ PK: `JOB#${id}`, SK: 'JOB' }),
  sendingInstants: (account: string): Key => ({ PK: `PACE#${account}`, SK: 'PACE' }),
};

/** What follows `prefix` in `value`, or undefined when `value` does not start with it. */
const after = (value: string, prefix: string): string | undefined => (value.startsWith(prefix) ? value.slice(prefix.length) : undefined);

/** The id of a Send item's key (`SEND#<id>` / `SEND`); undefined for any other item (a delivery, the content, a tally). */
export function parseSendKey(key: Key): string | undefined {
  return key.SK === keys.send('').SK ? parseSendPartition(key.PK) : undefined;
}

/** The send id of any item in a send's partition (`SEND#<id>`: the send, its deliveries, reports, tallies). */
export function parseSendPartition(pk: string): string | undefined {
  return after(pk, keys.send('').PK);
}

/** The email hash of an email claim's key; undefined for any other item. */
export function parseEmailClaimKey(key: Key): string | undefined {
  return key.SK === keys.emailClaim('').SK ? after(key.PK, keys.emailClaim('').PK) : undefined;
}

/** The email hash of a suppression's key; undefined for any other item. */
export function parseSuppressionKey(key: Key): string | undefined {
  return key.SK === keys.suppression('').SK ? after(key.PK, keys.suppression('').PK) : undefined;
}

/** A feed entry's sort key back into its date and article id. */
export function parseFeedEntrySortKey(sk: string): { publishedAt: string; articleId: string } | undefined {
  const rest = after(sk, FEED_ENTRY);
  const hash = rest?.lastIndexOf('#') ?? -1;
  if (rest === undefined || hash < 0) return undefined;
  return { publishedAt: rest.slice(0, hash), articleId: rest.slice(hash + 1) };
}

/** Parses a feed entry's keys back into its feed, month (`YYYY-MM`) and article id. */
export function parseFeedEntryKey(key: Key): { feed: FeedKey; month: string; publishedAt: string; articleId: string } | undefined {
  const feed = after(key.PK, keys.feedPartition('' as FeedKey)) as FeedKey | undefined;
  const entry = parseFeedEntrySortKey(key.SK);
  if (feed === undefined || !entry) return undefined;
  return { feed, month: entry.publishedAt.slice(0, 7), ...entry };
}

/** A stable spread of ids over `shards` partitions or items. */
export function shardOf(id: string, shards: number): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % shards;
}

/** Report counter items per send. */
export const REPORT_SHARDS = 8;

/** The counter item a recipient's reports add to: a stable spread by subscriber id. */
export function reportShard(subscriberId: string): number {
  return shardOf(subscriberId, REPORT_SHARDS);
}

/**
 * Partitions of the growth marks. A large import confirms thousands of subscribers in a minute; spread
 * over 8 partitions, its marks stay well under one partition's 1,000 writes a second, and a window is
 * still read with 8 queries.
 */
export const GROWTH_SHARDS = 8;
