import { STREAM_FILTERS } from '../adapters/dynamodb/stream-records.ts';

/**
 * Event filters for the table's stream (built from the table's keys in adapters/dynamodb/stream-records.ts).
 * The CDK stack passes them to the event source mappings; the local runtime applies the same patterns
 * before calling the handlers.
 */
export const FEED_REBUILD_FILTER = STREAM_FILTERS.feedRebuild;
export const SEND_PLANNER_FILTER = STREAM_FILTERS.sendPlanner;

type Pattern = { [k: string]: Pattern | (string | { prefix: string })[] };

/** Matches a record against a filter pattern (the subset used here: exact values and prefixes). */
export function matchesFilter(record: unknown, pattern: Pattern): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    const value = (record as Record<string, unknown> | undefined)?.[key];
    if (Array.isArray(rule)) {
      if (typeof value !== 'string') return false;
      if (!rule.some((r) => (typeof r === 'string' ? r === value : value.startsWith(r.prefix)))) return false;
    } else if (!matchesFilter(value, rule)) return false;
  }
  return true;
}
