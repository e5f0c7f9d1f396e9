import type { ApiClient } from './api.ts';
import { CliError, UsageError } from './errors.ts';

/** `--limit N`: at least 1; none means every item. */
export function limitOption(limit: string | undefined, command: string): number {
  if (limit === undefined) return Infinity;
  if (!/^\d+$/.test(limit) || Number(limit) < 1) throw new UsageError(`--limit must be a whole number of at least 1, not "${limit}"`, command);
  return Number(limit);
}

/** Follows an API list's `next` cursors until `limit` items (or the end), refusing a cursor that repeats. */
export async function collectPages<T>(api: ApiClient, path: string, query: URLSearchParams, limit: number, what: string): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams(query);
    q.set('limit', String(Math.min(100, limit - items.length)));
    if (cursor) q.set('cursor', cursor);
    const res: { body: { items?: T[]; next?: string | null } } = await api.request('GET', `${path}?${q}`);
    const page = res.body;
    if (!page || !Array.isArray(page.items)) throw new CliError(`the API answered the list request with something that is not a page of ${what}`);
    items.push(...page.items.slice(0, limit - items.length));
    cursor = page.next ?? null;
    if (cursor !== null) {
      if (seen.has(cursor)) throw new CliError('the API returned the same page cursor twice; stopping');
      seen.add(cursor);
    }
  } while (cursor !== null && items.length < limit);
  return items;
}

/** Columns padded to their widest cell; the last column runs free. */
export function table(header: string[], rows: string[][]): string {
  const last = header.length - 1;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < last ? c.padEnd(widths[i]!) : c))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}
