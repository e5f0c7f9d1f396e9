/**
 * The local outbox: every message the local SES endpoint accepted, kept on disk as the exact `.eml` it
 * received plus a JSON sidecar, and a small page (`/_dev/outbox`) to read them. Local only: no AWS
 * composition root mounts this.
 *
 * Layout: `<outboxDir>/<YYYY-MM-DD>/<YYYYMMDDTHHMMSSmmmZ>_<messageId>.eml` (and `.json`), UTC. The
 * message id starts with the time in hex, so names sort by arrival time; the path is derived from the
 * id alone, so nothing needs an index in memory.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Hono } from 'hono';
import { html, raw } from 'hono/html';

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
    days = (await readdir(outboxDir)).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)).sort().reverse();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [] };
    throw e;
  }
  const ids: string[] = [];
  for (const day of days) {
    if (beforeDay && day > beforeDay) continue;
    const names = (await readdir(join(outboxDir, day))).filter((n) => n.endsWith('.eml') && !n.startsWith('.')).sort().reverse();
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

// ---------------------------------------------------------------------------------------------------
// A small MIME reader, enough for the messages we write ourselves: headers with folding and RFC 2047
// encoded words, nested multipart, base64 and quoted-printable, charsets TextDecoder knows.

export interface ParsedPart {
  /** Lower case `type/subtype`. */
  contentType: string;
  charset?: string | undefined;
  headers: Array<[name: string, value: string]>;
  /** Decoded body bytes. */
  body: Buffer;
}

export interface ParsedMessage {
  /** Header fields in order, unfolded, values still encoded as on the wire. */
  headers: Array<[name: string, value: string]>;
  /** The leaf parts in order (a single-part message has one). */
  parts: ParsedPart[];
  /** First value of a header, RFC 2047 decoded; case-insensitive name. */
  header(name: string): string | undefined;
  /** Decoded text of the first text/plain and text/html part. */
  text?: string | undefined;
  html?: string | undefined;
}

function splitHeadBody(s: string): [head: string, body: string] {
  const empty = /^\r?\n/.exec(s);
  if (empty) return ['', s.slice(empty[0].length)];
  const m = /\r?\n\r?\n/.exec(s);
  return m ? [s.slice(0, m.index), s.slice(m.index + m[0].length)] : [s, ''];
}

/** Parses an unfolded header block; `s` holds one byte per char (latin1). */
export function parseHeaderBlock(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of s.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return out;
}

function decodeBytes(bytes: Buffer, charset: string | undefined): string {
  try {
    return new TextDecoder((charset ?? 'utf-8').toLowerCase()).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function decodeQ(s: string): Buffer {
  return Buffer.from(s.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
}

/**
 * Decodes RFC 2047 encoded words in a header value given as latin1 (one char per byte). Adjacent encoded
 * words are joined without the whitespace between them, and their bytes are decoded together, so a
 * multibyte character split across two words survives.
 */
export function decodeHeaderValue(value: string): string {
  const word = /=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=/g;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  const flush = () => {
    if (pending) out += decodeBytes(Buffer.concat(pending.bytes), pending.charset.replace(/\*.*$/, ''));
    pending = undefined;
  };
  for (let m = word.exec(value); m; m = word.exec(value)) {
    const between = value.slice(last, m.index);
    if (!(pending && /^[ \t]*$/.test(between))) {
      flush();
      out += decodeBytes(Buffer.from(between, 'latin1'), 'utf-8');
    }
    const charset = m[1]!;
    const bytes = m[2]!.toUpperCase() === 'B' ? Buffer.from(m[3]!, 'base64') : decodeQ(m[3]!);
    if (pending && pending.charset.toLowerCase() !== charset.toLowerCase()) flush();
    if (pending) pending.bytes.push(bytes);
    else pending = { charset, bytes: [bytes] };
    last = m.index + m[0].length;
  }
  flush();
  return out + decodeBytes(Buffer.from(value.slice(last), 'latin1'), 'utf-8');
}

function parseParams(value: string): { value: string; params: Record<string, string> } {
  const [first, ...rest] = value.split(/;(?=(?:[^"]*"[^"]*")*[^"]*$)/);
  const params: Record<string, string> = {};
  for (const p of rest) {
    const i = p.indexOf('=');
    if (i < 0) continue;
    params[p.slice(0, i).trim().toLowerCase()] = p.slice(i + 1).trim().replace(/^"(.*)"$/, '$1').replace(/\\(.)/g, '$1');
  }
  return { value: (first ?? '').trim().toLowerCase(), params };
}

function decodeQuotedPrintable(s: string): Buffer {
  return Buffer.from(s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
}

function parseEntity(s: string, into: ParsedPart[], depth: number): Array<[string, string]> {
  const [head, body] = splitHeadBody(s);
  const headers = parseHeaderBlock(head);
  const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const ct = parseParams(get('content-type') ?? 'text/plain; charset=us-ascii');
  const boundary = ct.params.boundary;
  if (ct.value.startsWith('multipart/') && boundary && depth < 10) {
    const delimiter = `--${boundary}`;
    const sections = body.split(new RegExp(`(?:^|\\r?\\n)${delimiter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(--)?[ \\t]*(?:\\r?\\n|$)`));
    // split() yields: preamble, (closing marker, part)*; parts sit at indexes 2, 4, ... before the `--` close
    for (let i = 1; i + 1 < sections.length; i += 2) {
      if (sections[i] === '--') break;
      parseEntity(sections[i + 1]!, into, depth + 1);
    }
    return headers;
  }
  const cte = (get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const bytes = cte === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : cte === 'quoted-printable' ? decodeQuotedPrintable(body) : Buffer.from(body, 'latin1');
  into.push({ contentType: ct.value, charset: ct.params.charset, headers, body: bytes });
  return headers;
}

/** Parses a raw message for display. Tolerant: never throws on odd input, shows what it can. */
export function parseMessage(raw: Buffer | string): ParsedMessage {
  const s = typeof raw === 'string' ? Buffer.from(raw, 'utf8').toString('latin1') : raw.toString('latin1');
  const parts: ParsedPart[] = [];
  const headers = parseEntity(s, parts, 0);
  const textOf = (type: string) => {
    const p = parts.find((x) => x.contentType === type);
    return p ? decodeBytes(p.body, p.charset) : undefined;
  };
  return {
    headers,
    parts,
    header(name: string) {
      const v = headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
      return v === undefined ? undefined : decodeHeaderValue(v);
    },
    text: textOf('text/plain'),
    html: textOf('text/html'),
  };
}

// ---------------------------------------------------------------------------------------------------
// The page.

/** What the HTML part may do inside the viewer: show inline styles and remote images, nothing else. */
const MESSAGE_HTML_CSP = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; font-src https: data:; sandbox";

const PAGE_STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:0;padding:1rem 1.5rem;color:#1d1d1f;background:#fff}
@media (prefers-color-scheme:dark){body{color:#eee;background:#161618}a{color:#8ab4f8}}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #8884;vertical-align:top}
th{font-weight:600}pre{white-space:pre-wrap;background:#8881;padding:.75rem;border-radius:4px}
iframe{width:100%;height:70vh;border:1px solid #8886;background:#fff}nav{margin:1rem 0}code{font-size:12px}`;

export interface OutboxAppOptions {
  /** Where the app is mounted, for absolute links. Default `/_dev/outbox`. */
  basePath?: string;
}

/**
 * The local-only outbox page as a Hono sub-app: `GET /` (newest first, `?before=<id>&limit=`),
 * `GET /:id` (headers, text part, HTML part in a sandboxed iframe), `GET /:id/html` (the HTML part under a
 * CSP that allows no script and no network but images), `GET /:id/raw` (the `.eml`).
 *
 * @example
 * ```ts
 * app.route('/_dev/outbox', createOutboxApp('.data/outbox'));
 * ```
 */
export function createOutboxApp(outboxDir: string, options: OutboxAppOptions = {}): Hono {
  const base = (options.basePath ?? '/_dev/outbox').replace(/\/$/, '');
  const app = new Hono();
  const page = (title: string, body: unknown) =>
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="robots" content="noindex"><title>${title}</title><style>${raw(PAGE_STYLE)}</style></head><body>${body}</body></html>`;

  app.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.get('Content-Security-Policy')) {
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src 'self'");
    }
  });

  app.get('/', async (c) => {
    const limit = Number(c.req.query('limit') ?? 50) || 50;
    const before = c.req.query('before');
    const { entries, next } = await listOutbox(outboxDir, { limit, ...(before ? { before } : {}) });
    const rows = entries.map(
      (e) =>
        html`<tr><td><a href="${base}/${e.messageId}">${e.receivedAt?.replace('T', ' ').slice(0, 19) ?? e.messageId}</a></td><td>${e.to ?? e.destinations?.join(', ') ?? ''}</td><td>${e.subject ?? ''}</td><td>${e.configurationSet ?? ''}</td></tr>`,
    );
    const body = html`<h1>Outbox</h1><p>Messages the local SES endpoint accepted, newest first.</p>
<table><thead><tr><th>Received (UTC)</th><th>To</th><th>Subject</th><th>Configuration set</th></tr></thead><tbody>${rows}</tbody></table>
${entries.length === 0 ? html`<p>No messages${before ? ' before this point' : ' yet'}.</p>` : ''}
<nav>${before ? html`<a href="${base}/">Newest</a> ` : ''}${next ? html`<a href="${base}/?before=${next}&amp;limit=${limit}">Older →</a>` : ''}</nav>`;
    return c.html(page('Outbox', body));
  });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const found = await readOutboxMessage(outboxDir, id);
    if (!found) return c.html(page('Not found', html`<p>No message ${id}. <a href="${base}/">Back to the outbox</a></p>`), 404);
    const msg = parseMessage(found.raw);
    const headerRows = msg.headers.map(([k, v]) => html`<tr><th>${k}</th><td><code>${decodeHeaderValue(v)}</code></td></tr>`);
    const sc = found.sidecar;
    const body = html`<p><a href="${base}/">← Outbox</a> · <a href="${base}/${id}/raw">Raw .eml</a></p>
<h1>${msg.header('subject') ?? '(no subject)'}</h1>
${sc ? html`<p>Envelope to <strong>${sc.destinations.join(', ')}</strong> via configuration set <code>${sc.configurationSet ?? '(none)'}</code>; tags <code>${Object.entries(sc.tags).map(([k, v]) => `${k}=${v}`).join(' ')}</code>; ${sc.bytes} bytes.</p>` : ''}
<h2>HTML part</h2>${msg.html !== undefined ? html`<iframe sandbox title="HTML part" src="${base}/${id}/html"></iframe>` : html`<p>(none)</p>`}
<h2>Text part</h2><pre>${msg.text ?? '(none)'}</pre>
<h2>Headers</h2><table>${headerRows}</table>`;
    return c.html(page(msg.header('subject') ?? id, body));
  });

  app.get('/:id/html', async (c) => {
    const found = await readOutboxMessage(outboxDir, c.req.param('id'));
    const htmlPart = found ? parseMessage(found.raw).html : undefined;
    if (htmlPart === undefined) return c.text('No HTML part', 404);
    c.header('Content-Security-Policy', MESSAGE_HTML_CSP);
    c.header('Referrer-Policy', 'no-referrer');
    return c.html(htmlPart);
  });

  app.get('/:id/raw', async (c) => {
    const found = await readOutboxMessage(outboxDir, c.req.param('id'));
    if (!found) return c.text('Not found', 404);
    // text/plain so the browser shows the bytes instead of handing them to a mail client.
    return c.body(new Uint8Array(found.raw), 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });

  return app;
}
