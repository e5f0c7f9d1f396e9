/**
 * A local stand-in for Amazon SES v1, speaking SES's own wire format (AWS Query protocol: form-encoded
 * POST in, XML in the `http://ses.amazonaws.com/doc/2010-12-01/` namespace out), so the unmodified
 * `SESClient` and our `SesMailer` run against it exactly as against AWS.
 *
 * Supported: `SendRawEmail`, `SendEmail`, `GetSendQuota`. Every accepted message is written to the outbox
 * (see `outbox.ts`) exactly as received, with a JSON sidecar; nothing about a message is kept in memory,
 * only counters. Request signatures are not checked.
 *
 * Control routes beside the SES API, for tests that run the endpoint in another process:
 * `POST /_inkwire/faults` with JSON `{ "throttleShare": 0.5 }`, `GET /_inkwire/stats`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import MailComposer from 'nodemailer/lib/mail-composer';
import addressparser, { type Address } from 'nodemailer/lib/addressparser';
import { systemClock, type Clock } from '../core/clock.ts';
import { decodeHeaderValue, outboxMessagePaths, parseHeaderBlock, type OutboxSidecar } from './outbox.ts';

export const SES_XML_NAMESPACE = 'http://ses.amazonaws.com/doc/2010-12-01/';
const MAX_RAW_BYTES = 10 * 1024 * 1024;
/** The form-encoded request carries the message in base64 (4/3) with some `%2B`-style escapes on top. */
const MAX_REQUEST_BYTES = 3 * MAX_RAW_BYTES;
const TAG_PART = /^[A-Za-z0-9_-]{1,256}$/;

export interface SesFaults {
  /** Share (0..1) of SendRawEmail/SendEmail calls answered with `Throttling` "Maximum sending rate exceeded.". */
  throttleShare?: number;
  /** Source of randomness for `throttleShare`; `Math.random` by default. */
  random?: () => number;
}

export interface SesEndpointOptions {
  /** 0 or absent: a free port. */
  port?: number;
  host?: string;
  outboxDir: string;
  faults?: SesFaults;
  /** What GetSendQuota reports (the rate is reported, not enforced). Default 14/s and 1,000,000 per 24 h. */
  quota?: { maxSendRate?: number; max24HourSend?: number };
  /** When given, any other `ConfigurationSetName` is refused with `ConfigurationSetDoesNotExist`, as SES does. */
  configurationSets?: string[];
  clock?: Clock;
}

export interface SesEndpointStats {
  accepted: number;
  throttled: number;
  rejected: number;
  /** Recipients accepted in the last 24 hours (since this process started), as GetSendQuota reports. */
  sentLast24Hours: number;
}

export interface SesEndpoint {
  /** `http://127.0.0.1:<port>`: give it to `new SESClient({ endpoint })`. */
  url: string;
  port: number;
  outboxDir: string;
  stats(): SesEndpointStats;
  /** Replaces the fault settings; takes effect with the next request. */
  setFaults(faults: SesFaults): void;
  stop(): Promise<void>;
}

class SesFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
    readonly status = 400,
  ) {
    super(message);
  }
}

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** SES prints quota figures as doubles (`200.0`). */
const xmlNumber = (n: number) => (Number.isInteger(n) ? n.toFixed(1) : String(n));

/** Counts per minute over a rolling day: 1,440 numbers, whatever the traffic. */
class RollingDay {
  private readonly counts = new Float64Array(1440);
  private readonly minutes = new Float64Array(1440).fill(-1);
  add(now: Date, n: number): void {
    const minute = Math.floor(now.getTime() / 60_000);
    const slot = minute % 1440;
    if (this.minutes[slot] !== minute) {
      this.minutes[slot] = minute;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += n;
  }
  total(now: Date): number {
    const minute = Math.floor(now.getTime() / 60_000);
    let sum = 0;
    for (let i = 0; i < 1440; i++) if (this.minutes[i]! > minute - 1440) sum += this.counts[i]!;
    return sum;
  }
}

function listParam(params: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${prefix}.member.${i}`); i++) out.push(params.get(`${prefix}.member.${i}`)!);
  return out;
}

function tagsParam(params: URLSearchParams): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let i = 1; params.has(`Tags.member.${i}.Name`); i++) {
    const name = params.get(`Tags.member.${i}.Name`)!;
    const value = params.get(`Tags.member.${i}.Value`) ?? '';
    if (!TAG_PART.test(name) || !TAG_PART.test(value)) {
      throw new SesFault('InvalidParameterValue', `Invalid tag name or value <${name}=${value}>: only ASCII letters, numbers, underscores and dashes are allowed.`);
    }
    tags[name] = value;
  }
  return tags;
}

function addresses(list: Address[]): string[] {
  return list.flatMap((a) => (a.group ? addresses(a.group) : a.address ? [a.address] : []));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new SesFault('MessageRejected', 'Message length is more than 10485760 bytes long.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Starts the endpoint on loopback.
 *
 * @example
 * ```ts
 * const ses = await startSesEndpoint({ outboxDir: '.data/outbox' });
 * const client = new SESClient({ endpoint: ses.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
 * ```
 */
export async function startSesEndpoint(options: SesEndpointOptions): Promise<SesEndpoint> {
  const clock = options.clock ?? systemClock;
  const outboxDir = options.outboxDir;
  const maxSendRate = options.quota?.maxSendRate ?? 14;
  const max24HourSend = options.quota?.max24HourSend ?? 1_000_000;
  const configurationSets = options.configurationSets ? new Set(options.configurationSets) : undefined;
  let faults: SesFaults = { ...options.faults };
  const counters = { accepted: 0, throttled: 0, rejected: 0 };
  const day = new RollingDay();
  const knownDirs = new Set<string>();
  let lastMs = -1;
  let seq = 0;

  /** Time-ordered: 12 hex digits of ms and a 4-digit sequence within the ms, then a UUID, as SES ids look. */
  function newMessageId(now: Date): string {
    const ms = now.getTime();
    seq = ms === lastMs ? (seq + 1) % 0x10000 : 0;
    lastMs = ms;
    return `${ms.toString(16).padStart(12, '0')}${seq.toString(16).padStart(4, '0')}-${randomUUID()}-000000`;
  }

  async function store(raw: Buffer, sidecar: Omit<OutboxSidecar, 'messageId' | 'receivedAt' | 'bytes'>, now: Date): Promise<string> {
    const messageId = newMessageId(now);
    const paths = outboxMessagePaths(outboxDir, messageId);
    if (!knownDirs.has(paths.dir)) {
      await mkdir(paths.dir, { recursive: true });
      knownDirs.add(paths.dir);
    }
    const full: OutboxSidecar = { messageId, receivedAt: now.toISOString(), bytes: raw.byteLength, ...sidecar };
    // Write to a temporary name, then rename: a reader never sees half a message. The sidecar goes first
    // so that a listed `.eml` has its metadata.
    const tmp = join(dirname(paths.eml), `.${messageId}.tmp`);
    await writeFile(tmp, JSON.stringify(full, null, 2));
    await rename(tmp, paths.json);
    await writeFile(tmp, raw);
    await rename(tmp, paths.eml);
    return messageId;
  }

  function checkSendPreconditions(params: URLSearchParams, recipients: number, now: Date): void {
    const set = params.get('ConfigurationSetName') ?? undefined;
    if (set !== undefined && configurationSets && !configurationSets.has(set)) {
      throw new SesFault('ConfigurationSetDoesNotExist', `Configuration set <${set}> does not exist.`);
    }
    if (recipients === 0) throw new SesFault('InvalidParameterValue', 'Missing final \'@domain\'');
    if (recipients > 50) throw new SesFault('InvalidParameterValue', 'Recipient count exceeds 50.');
    const share = faults.throttleShare ?? 0;
    if (share > 0 && (faults.random ?? Math.random)() < share) throw new SesFault('Throttling', 'Maximum sending rate exceeded.');
    if (day.total(now) + recipients > max24HourSend) throw new SesFault('Throttling', 'Daily message quota exceeded.');
  }

  async function sendRawEmail(params: URLSearchParams): Promise<string> {
    const now = clock.now();
    const data = (params.get('RawMessage.Data') ?? '').replace(/ /g, '+').replace(/\s+/g, '');
    if (!data) throw new SesFault('ValidationError', "1 validation error detected: Value null at 'rawMessage.data' failed to satisfy constraint: Member must not be null");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new SesFault('InvalidParameterValue', 'RawMessage.Data is not valid base64.');
    const raw = Buffer.from(data, 'base64');
    if (raw.byteLength > MAX_RAW_BYTES) throw new SesFault('MessageRejected', 'Message length is more than 10485760 bytes long.');
    const text = raw.toString('latin1');
    const sep = /\r?\n\r?\n/.exec(text);
    const headers = parseHeaderBlock(sep ? text.slice(0, sep.index) : text);
    const get = (name: string) => headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
    const source = params.get('Source') ?? undefined;
    const from = get('from')[0];
    if (!from && !source) throw new SesFault('MessageRejected', 'Missing required header \'From\'.');
    let destinations = listParam(params, 'Destinations');
    if (destinations.length === 0) destinations = addresses(addressparser([...get('to'), ...get('cc'), ...get('bcc')].join(', ')));
    const tags = tagsParam(params);
    checkSendPreconditions(params, destinations.length, now);
    const subject = get('subject')[0];
    const to = get('to')[0];
    const messageId = await store(
      raw,
      {
        action: 'SendRawEmail',
        configurationSet: params.get('ConfigurationSetName') ?? undefined,
        tags,
        destinations,
        source,
        subject: subject === undefined ? undefined : decodeHeaderValue(subject),
        from: from === undefined ? undefined : decodeHeaderValue(from),
        to: to === undefined ? undefined : decodeHeaderValue(to),
      },
      now,
    );
    day.add(now, destinations.length);
    return messageId;
  }

  async function sendEmail(params: URLSearchParams): Promise<string> {
    const now = clock.now();
    const source = params.get('Source');
    if (!source) throw new SesFault('ValidationError', "1 validation error detected: Value null at 'source' failed to satisfy constraint: Member must not be null");
    const to = listParam(params, 'Destination.ToAddresses');
    const cc = listParam(params, 'Destination.CcAddresses');
    const bcc = listParam(params, 'Destination.BccAddresses');
    const destinations = [...to, ...cc, ...bcc];
    const tags = tagsParam(params);
    checkSendPreconditions(params, destinations.length, now);
    const subject = params.get('Message.Subject.Data') ?? '';
    const text = params.get('Message.Body.Text.Data') ?? undefined;
    const htmlBody = params.get('Message.Body.Html.Data') ?? undefined;
    if (text === undefined && htmlBody === undefined) throw new SesFault('InvalidParameterValue', 'Message body must contain Text or Html.');
    const replyTo = listParam(params, 'ReplyToAddresses');
    const raw = await new MailComposer({
      from: source,
      to,
      cc,
      subject,
      ...(text !== undefined ? { text } : {}),
      ...(htmlBody !== undefined ? { html: htmlBody } : {}),
      ...(replyTo.length ? { replyTo } : {}),
      date: now,
      newline: 'windows',
      disableFileAccess: true,
      disableUrlAccess: true,
    })
      .compile()
      .build();
    const messageId = await store(
      raw,
      {
        action: 'SendEmail',
        configurationSet: params.get('ConfigurationSetName') ?? undefined,
        tags,
        destinations,
        source,
        subject,
        from: source,
        to: to.join(', '),
      },
      now,
    );
    day.add(now, destinations.length);
    return messageId;
  }

  function respond(res: ServerResponse, status: number, requestId: string, xml: string): void {
    res.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId, 'Content-Length': Buffer.byteLength(xml) });
    res.end(xml);
  }

  function result(action: string, requestId: string, inner: string): string {
    return `<${action}Response xmlns="${SES_XML_NAMESPACE}">\n  <${action}Result>\n${inner}  </${action}Result>\n  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`;
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/_inkwire/stats' && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats()));
      return;
    }
    if (path === '/_inkwire/faults' && req.method === 'POST') {
      let body: { throttleShare?: unknown };
      try {
        body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as { throttleShare?: unknown };
      } catch {
        body = { throttleShare: NaN };
      }
      const share = Number(body.throttleShare ?? 0);
      if (!(share >= 0 && share <= 1)) {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'throttleShare must be a number from 0 to 1' }));
        return;
      }
      faults = { ...faults, throttleShare: share };
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'unknown control route' }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/_inkwire/')) return handleControl(req, res, url.pathname);
    try {
      let params: URLSearchParams;
      if (req.method === 'POST') params = new URLSearchParams((await readBody(req)).toString('utf8'));
      else if (req.method === 'GET') params = url.searchParams;
      else throw new SesFault('InvalidHttpRequest', `Method ${req.method ?? ''} is not supported.`, 'Sender', 405);
      const action = params.get('Action') ?? '';
      switch (action) {
        case 'SendRawEmail': {
          const id = await sendRawEmail(params);
          counters.accepted++;
          return respond(res, 200, requestId, result(action, requestId, `    <MessageId>${id}</MessageId>\n`));
        }
        case 'SendEmail': {
          const id = await sendEmail(params);
          counters.accepted++;
          return respond(res, 200, requestId, result(action, requestId, `    <MessageId>${id}</MessageId>\n`));
        }
        case 'GetSendQuota':
          return respond(
            res,
            200,
            requestId,
            result(
              action,
              requestId,
              `    <SentLast24Hours>${xmlNumber(day.total(clock.now()))}</SentLast24Hours>\n    <Max24HourSend>${xmlNumber(max24HourSend)}</Max24HourSend>\n    <MaxSendRate>${xmlNumber(maxSendRate)}</MaxSendRate>\n`,
            ),
          );
        default:
          throw new SesFault('InvalidAction', `The action ${action || '(none)'} is not valid for this endpoint.`);
      }
    } catch (e) {
      const fault = e instanceof SesFault ? e : new SesFault('InternalFailure', 'The request processing has failed because of an unknown error.', 'Receiver', 500);
      if (!(e instanceof SesFault)) console.error('local SES endpoint:', e);
      if (fault.code === 'Throttling') counters.throttled++;
      else counters.rejected++;
      return respond(
        res,
        fault.status,
        requestId,
        `<ErrorResponse xmlns="${SES_XML_NAMESPACE}">\n  <Error>\n    <Type>${fault.type}</Type>\n    <Code>${xmlEscape(fault.code)}</Code>\n    <Message>${xmlEscape(fault.message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
      );
    }
  }

  function stats(): SesEndpointStats {
    return { ...counters, sentLast24Hours: day.total(clock.now()) };
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      console.error('local SES endpoint:', e);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await mkdir(outboxDir, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    outboxDir,
    stats,
    setFaults(next: SesFaults) {
      faults = { ...next };
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
