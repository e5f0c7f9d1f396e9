import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { rebuildFeeds, type FeedRebuildDeps } from '../core/feeds/rebuild.ts';
import type { FeedKey } from '../core/feeds/feeds.ts';
import { decodeFeedEntry } from '../adapters/dynamodb/stream-records.ts';
import { METRICS, noMetrics, type LogFn, type Metrics } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/** A rebuild's dependencies, and where the handler reports how long rebuilds take (nowhere by default). */
export type FeedRebuildHandlerDeps = FeedRebuildDeps & { metrics?: Metrics | undefined; log?: LogFn | undefined };

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

/**
 * The stream consumer that keeps feeds current. A batch is coalesced: each touched feed is rebuilt once.
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
export const handler = lambdaEntry('feedRebuild', createFeedRebuildHandler(async () => (await import('./aws/feeds.ts')).feedRebuildDeps()));
