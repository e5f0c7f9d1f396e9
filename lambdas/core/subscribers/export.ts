import type { SubscriberRepository } from './ports.ts';
import type { Subscriber } from './schema.ts';

export const EXPORT_COLUMNS = ['id', 'email', 'name', 'status', 'frequency', 'topics', 'paused', 'createdAt', 'confirmedAt', 'source'] as const;

/**
 * One CSV field (RFC 4180). A value a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR at the
 * start) gets a leading apostrophe: names come from the public form.
 */
export function csvField(value: string): string {
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

export function csvRow(s: Subscriber): string {
  const cells = [s.id, s.email, s.name ?? '', s.status, s.frequency, s.topics.join(';'), String(s.paused), s.createdAt, s.confirmedAt ?? '', s.source];
  return `${cells.map(csvField).join(',')}\r\n`;
}

/**
 * Every subscriber as CSV lines (header first), read page by page: the export streams, whatever the
 * list's size. The `topics` column uses `;` between slugs, as the import reads it.
 */
export async function* exportSubscribersCsv(deps: { subscribers: SubscriberRepository }): AsyncIterable<string> {
  yield `${EXPORT_COLUMNS.join(',')}\r\n`;
  let chunk = '';
  for await (const s of deps.subscribers.all()) {
    chunk += csvRow(s);
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
