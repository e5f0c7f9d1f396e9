import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { rebuildFeeds, type FeedRebuildDeps } from '../core/feeds/rebuild.ts';
import type { FeedKey } from '../core/feeds/feeds.ts';
import type { ReadableDocumentStore } from '../core/feeds/ports.ts';
import { rebuildSite, type ChangedEntry } from '../core/site/rebuild.ts';
import { decodeFeedEntry, recordKey } from '../adapters/dynamodb/stream-records.ts';
import { parseFeedEntryKey } from '../adapters/dynamodb/keys.ts';
import { METRICS, noMetrics, type LogFn, type Metrics } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/**
 * A rebuild's dependencies, and where the handler reports how long rebuilds take (nowhere by default).
 * `pages`: the store the site's pages go to (the feeds' own); without it only feeds are rebuilt.
 */
export type FeedRebuildHandlerDeps = FeedRebuildDeps & { pages?: ReadableDocumentStore | undefined; metrics?: Metrics | undefined; log?: LogFn | undefined };

/** Which feeds and months the stream records touch (feed entry items only; other items are ignored). */
export function rebuildTargets(records: DynamoDBRecord[]): Map<FeedKey, Set<string>> {
  const targets = new Map<FeedKey, Set<string>>();
  for (const r of records) {
    const parsed = decodeFeedEntry(r);
    if (!parsed) continue;
    let months = targets.get(parsed.feed);
    if (!months) targets.set(parsed.feed, (months = new Set()));
    months.add(parsed.month);
  }
  return targets;
}

/** The site feed's entries the records touch: each article's place before and after the change. */
export function changedEntries(records: DynamoDBRecord[]): ChangedEntry[] {
  const out: ChangedEntry[] = [];
  for (const r of records) {
    const key = recordKey(r);
    const parsed = key && parseFeedEntryKey(key);
    if (parsed && parsed.feed === 'site') out.push({ articleId: parsed.articleId, publishedAt: parsed.publishedAt });
  }
  return out;
}

/**
 * The stream consumer that keeps feeds and the site's pages current. A batch is coalesced: each touched feed is rebuilt once.
 * On failure the whole batch is reported from its first record, so the retry sees every change again.
 */
export function createFeedRebuildHandler(deps: FeedRebuildHandlerDeps | (() => Promise<FeedRebuildHandlerDeps>)) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const metrics = resolved.metrics ?? noMetrics;
    const targets = rebuildTargets(event.Records);
    if (targets.size === 0) return { batchItemFailures: [] };
    const started = performance.now();
    try {
      await rebuildFeeds(resolved, targets);
      if (resolved.pages)
        await rebuildSite({ index: resolved.index, store: resolved.pages, site: resolved.site }, { feeds: targets, entries: changedEntries(event.Records) });
      metrics.milliseconds(METRICS.feedRebuildTime, performance.now() - started);
      metrics.count(METRICS.feedsRebuilt, targets.size);
      return { batchItemFailures: [] };
    } catch (e) {
      metrics.count(METRICS.feedRebuildFailed);
      (resolved.log ?? console.error)(`feed rebuild failed (${[...targets.keys()].join(', ')})`, e);
      const first = event.Records[0]?.dynamodb?.SequenceNumber;
      return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
    }
  };
}

/** Lambda entry point: the table's stream, filtered to feed entries (FEED_REBUILD_FILTER). */
export const handler = lambdaEntry(
  'feedRebuild',
  createFeedRebuildHandler(async () => (await import('./aws/feeds.ts')).feedRebuildDeps()),
);
