/**
 * A small MIME reader, enough for the messages Inkwire writes itself: headers with folding and RFC 2047
 * encoded words, nested multipart, base64 and quoted-printable, charsets TextDecoder knows. Local only:
 * the outbox page, the local SES endpoint and the tests read messages with it.
 */
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
  return Buffer.from(
    s.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
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
    params[p.slice(0, i).trim().toLowerCase()] = p
      .slice(i + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .replace(/\\(.)/g, '$1');
  }
  return { value: (first ?? '').trim().toLowerCase(), params };
}

function decodeQuotedPrintable(s: string): Buffer {
  return Buffer.from(
    s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
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
  const bytes =
    cte === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64') : cte === 'quoted-printable' ? decodeQuotedPrintable(body) : Buffer.from(body, 'latin1');
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
