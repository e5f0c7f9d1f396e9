/**
 * The local outbox on disk: every message the local SES endpoint accepted, kept as the exact `.eml` it
 * received plus a JSON sidecar. Local only: no AWS composition root uses this.
 *
 * Layout: `<outboxDir>/<YYYY-MM-DD>/<YYYYMMDDTHHMMSSmmmZ>_<messageId>.eml` (and `.json`), UTC. The
 * message id starts with the time in hex, so names sort by arrival time; the path is derived from the
 * id alone, so nothing needs an index in memory.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** What the endpoint writes beside each `.eml`. */
export interface OutboxSidecar {
  messageId: string;
  /** ISO 8601 UTC. */
  receivedAt: string;
  action: 'SendRawEmail' | 'SendEmail';
  configurationSet?: string | undefined;
  tags: Record<string, string>;
  /** Envelope recipients (`Destinations`, or the To/Cc/Bcc addresses when none were given). */
  destinations: string[];
  source?: string | undefined;
  /** Decoded, for listing without parsing the message. */
  subject?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  bytes: number;
}

/** `0000018d9a1b2c3d0001-<uuid>-000000`: 12 hex digits of milliseconds, 4 of sequence, a UUID. */
const MESSAGE_ID = /^([0-9a-f]{12})[0-9a-f]{4}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$/;

export function isOutboxMessageId(id: string): boolean {
  return MESSAGE_ID.test(id);
}

/** Where the message with this id lives (whether or not it exists). Throws on an id we never issue. */
export function outboxMessagePaths(outboxDir: string, messageId: string): { dir: string; eml: string; json: string } {
  const m = MESSAGE_ID.exec(messageId);
  if (!m) throw new Error(`not an outbox message id: ${messageId}`);
  const iso = new Date(parseInt(m[1]!, 16)).toISOString(); // 2024-02-11T10:30:00.123Z
  const day = iso.slice(0, 10);
  const stamp = iso.replace(/[-:.]/g, '');
  const dir = join(outboxDir, day);
  const base = join(dir, `${stamp}_${messageId}`);
  return { dir, eml: `${base}.eml`, json: `${base}.json` };
}

function messageIdFromFileName(name: string): string | undefined {
  const m = /^\d{8}T\d{9}Z_(.+)\.eml$/.exec(name);
  return m && MESSAGE_ID.test(m[1]!) ? m[1] : undefined;
}

export interface OutboxEntry extends Partial<OutboxSidecar> {
  messageId: string;
}

/**
 * Newest-first page of the outbox. Reads one day directory at a time, newest day first, and stops as soon
 * as the page is full, so a long history costs nothing until someone pages back through it.
 * `before` is the last message id of the previous page; `next` is set whenever the page is full.
 */
export async function listOutbox(outboxDir: string, options: { limit?: number; before?: string } = {}): Promise<{ entries: OutboxEntry[]; next?: string }> {
  const limit = Math.max(1, Math.min(options.limit ?? 50, 500));
  const cursor = options.before && isOutboxMessageId(options.before) ? outboxMessagePaths(outboxDir, options.before) : undefined;
  const beforeDay = cursor ? basename(cursor.dir) : undefined;
  const beforeFile = cursor ? basename(cursor.eml) : undefined;
  let days: string[];
  try {
    days = (await readdir(outboxDir))
      .filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))
      .sort()
      .reverse();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [] };
    throw e;
  }
  const ids: string[] = [];
  for (const day of days) {
    if (beforeDay && day > beforeDay) continue;
    const names = (await readdir(join(outboxDir, day)))
      .filter((n) => n.endsWith('.eml') && !n.startsWith('.'))
      .sort()
      .reverse();
    for (const name of names) {
      if (day === beforeDay && name >= beforeFile!) continue;
      const id = messageIdFromFileName(name);
      if (id) ids.push(id);
      if (ids.length === limit) break;
    }
    // A full page stops here rather than opening an older day to see whether more exist; the page after
    // it may therefore turn out empty.
    if (ids.length === limit) break;
  }
  const entries = await Promise.all(
    ids.map(async (messageId): Promise<OutboxEntry> => {
      try {
        const sidecar = JSON.parse(await readFile(outboxMessagePaths(outboxDir, messageId).json, 'utf8')) as OutboxSidecar;
        return { ...sidecar, messageId };
      } catch {
        return { messageId };
      }
    }),
  );
  return ids.length === limit ? { entries, next: ids[ids.length - 1]! } : { entries };
}

/** The raw bytes and sidecar of one message, or undefined when there is no such message. */
export async function readOutboxMessage(outboxDir: string, messageId: string): Promise<{ raw: Buffer; sidecar?: OutboxSidecar } | undefined> {
  if (!isOutboxMessageId(messageId)) return undefined;
  const paths = outboxMessagePaths(outboxDir, messageId);
  let raw: Buffer;
  try {
    raw = await readFile(paths.eml);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return { raw, sidecar: JSON.parse(await readFile(paths.json, 'utf8')) as OutboxSidecar };
  } catch {
    return { raw };
  }
}
