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
 * - API key            APIKEY#<sha256>           / APIKEY
 * - Subscriber         SUB#<id>                  / SUB               GSI1: SUBS#<status> / <createdAt>#<id>
 *                                                                     GSI2 (confirmed, not paused): AUD#<frequency> / <id>
 * - Digest dates       SUB#<id>                  / DIGESTS           TTL (when each digest last went to the
 *                                                                     subscriber; apart from the subscriber item, so moving it rewrites no index entry)
 * - Email claim        EMAIL#<sha256(email)>     / EMAIL             (uniqueness of an address)
 * - Suppression        SUPPRESS#<sha256(email)>  / SUPPRESS
 * - Send               SEND#<id>                 / SEND              GSI1: SENDS / <createdAt>#<id>
 * - Delivery           SEND#<id>                 / D#<subscriberId>
 * - Send content       SEND#<id>                 / CONTENT           (frozen once when planning starts)
 * - Batch tally        SEND#<id>                 / B#<generation>#<batchId>  TTL (a batch is counted once)
 * - Digest archive     ARCHIVE#digests           / A#<sentAt>#<sendId>       (the web archive's index)
 * - Rate window        RATE#<scope>#<key>        / W#<windowStart>   TTL
 * - Seen message       SEEN#<source>#<id>        / SEEN              TTL (replay protection)
 * - Subscriber job     JOB#<id>                  / JOB               TTL (a CSV import or export job: status, progress, report)
 * - Sending instants   PACE#<account>            / PACE              (the next free instant of the SES account's rate, shared by every sender)
 */

export type Key = { PK: string; SK: string };

import type { FeedKey } from '../../core/feeds/feeds.ts';
export type { FeedKey };

export const keys = {
  article: (id: string): Key => ({ PK: `ARTICLE#${id}`, SK: 'ARTICLE' }),
  articleListGsi1: (createdAt: string, id: string) => ({ GSI1PK: 'ARTICLES', GSI1SK: `${createdAt}#${id}` }),
  scheduledGsi2: (publishAt: string, id: string) => ({ GSI2PK: 'SCHEDULED', GSI2SK: `${publishAt}#${id}` }),

  feedPartition: (feed: FeedKey): string => `FEED#${feed}`,
  feedEntry: (feed: FeedKey, publishedAt: string, articleId: string): Key => ({
    PK: `FEED#${feed}`,
    SK: `E#${publishedAt}#${articleId}`,
  }),
  /** Sort-key bounds of one calendar month (UTC) in a feed partition: `YYYY-MM`. */
  feedMonthPrefix: (month: string): string => `E#${month}`,

  idempotency: (scope: string, key: string): Key => ({ PK: `IDEMP#${scope}#${key}`, SK: 'IDEMP' }),
  apiKey: (hash: string): Key => ({ PK: `APIKEY#${hash}`, SK: 'APIKEY' }),

  subscriber: (id: string): Key => ({ PK: `SUB#${id}`, SK: 'SUB' }),
  subscriberDigests: (id: string): Key => ({ PK: `SUB#${id}`, SK: 'DIGESTS' }),
  subscriberStatusGsi1: (status: string, createdAt: string, id: string) => ({
    GSI1PK: `SUBS#${status}`,
    GSI1SK: `${createdAt}#${id}`,
  }),
  audienceGsi2: (frequency: string, id: string) => ({ GSI2PK: `AUD#${frequency}`, GSI2SK: id }),
  emailClaim: (emailHash: string): Key => ({ PK: `EMAIL#${emailHash}`, SK: 'EMAIL' }),
  suppression: (emailHash: string): Key => ({ PK: `SUPPRESS#${emailHash}`, SK: 'SUPPRESS' }),

  send: (id: string): Key => ({ PK: `SEND#${id}`, SK: 'SEND' }),
  sendListGsi1: (createdAt: string, id: string) => ({ GSI1PK: 'SENDS', GSI1SK: `${createdAt}#${id}` }),
  delivery: (sendId: string, subscriberId: string): Key => ({ PK: `SEND#${sendId}`, SK: `D#${subscriberId}` }),
  sendContent: (id: string): Key => ({ PK: `SEND#${id}`, SK: 'CONTENT' }),
  /** What the provider reported about one recipient's message (one attribute per kind, set once). */
  sendReport: (sendId: string, subscriberId: string): Key => ({ PK: `SEND#${sendId}`, SK: `R#${subscriberId}` }),
  /** One of a send's report counters: spread over `REPORT_SHARDS` items so that concurrent reports seldom meet on one. */
  sendReportCount: (sendId: string, shard: number): Key => ({ PK: `SEND#${sendId}`, SK: `RC#${shard}` }),
  batchTally: (sendId: string, generation: number, batchId: string): Key => ({ PK: `SEND#${sendId}`, SK: `B#${generation}#${batchId}` }),
  digestArchivePartition: 'ARCHIVE#digests',
  digestArchiveEntry: (sentAt: string, sendId: string): Key => ({ PK: 'ARCHIVE#digests', SK: `A#${sentAt}#${sendId}` }),

  rateWindow: (scope: string, key: string, windowStart: number): Key => ({
    PK: `RATE#${scope}#${key}`,
    SK: `W#${windowStart}`,
  }),
  slug: (slug: string): Key => ({ PK: `SLUG#${slug}`, SK: 'SLUG' }),
  seen: (source: string, id: string): Key => ({ PK: `SEEN#${source}#${id}`, SK: 'SEEN' }),
  subscriberJob: (id: string): Key => ({ PK: `JOB#${id}`, SK: 'JOB' }),
  sendingInstants: (account: string): Key => ({ PK: `PACE#${account}`, SK: 'PACE' }),
};

/** The id of a Send item's key (`SEND#<id>` / `SEND`); undefined for any other item (a delivery, the content, a tally). */
export function parseSendKey(key: Key): string | undefined {
  const prefix = keys.send('').PK;
  return key.PK.startsWith(prefix) && key.SK === keys.send('').SK ? key.PK.slice(prefix.length) : undefined;
}

/** Parses a feed entry's keys back into its feed, month (`YYYY-MM`) and article id. */
export function parseFeedEntryKey(key: Key): { feed: FeedKey; month: string; publishedAt: string; articleId: string } | undefined {
  if (!key.PK.startsWith('FEED#') || !key.SK.startsWith('E#')) return undefined;
  const feed = key.PK.slice('FEED#'.length) as FeedKey;
  const rest = key.SK.slice(2);
  const hash = rest.lastIndexOf('#');
  if (hash < 0) return undefined;
  const publishedAt = rest.slice(0, hash);
  return { feed, month: publishedAt.slice(0, 7), publishedAt, articleId: rest.slice(hash + 1) };
}

/** Report counter items per send. */
export const REPORT_SHARDS = 8;

/** The counter item a recipient's reports add to: a stable spread by subscriber id. */
export function reportShard(subscriberId: string): number {
  let h = 0;
  for (let i = 0; i < subscriberId.length; i++) h = (h * 31 + subscriberId.charCodeAt(i)) >>> 0;
  return h % REPORT_SHARDS;
}
