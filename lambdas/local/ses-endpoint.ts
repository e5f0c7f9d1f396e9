/**
 * A local stand-in for Amazon SES v1, speaking SES's own wire format (AWS Query protocol: form-encoded
 * POST in, XML in the `http://ses.amazonaws.com/doc/2010-12-01/` namespace out), so the unmodified
 * `SESClient` and our `SesMailer` run against it exactly as against AWS.
 *
 * Supported: `SendRawEmail`, `SendEmail`, `GetSendQuota`; and of SES v2, the account-level suppression list
 * (`PutSuppressedDestination`, `GetSuppressedDestination`, `DeleteSuppressedDestination`). Every accepted message is written to the outbox
 * (see `outbox.ts`) exactly as received, with a JSON sidecar; in memory are only counters and the accept
 * times (one number per accepted recipient, for rate proofs). Request signatures are not checked.
 *
 * It behaves like an SES account with a sending quota: GetSendQuota reports a sliding 24-hour count, sends
 * above `Max24HourSend` are refused (`Throttling`, "Daily message quota exceeded."), and with `enforceRate`
 * sends above `MaxSendRate` in any sliding second are refused (`Throttling`, "Maximum sending rate
 * exceeded."). All of it runs on a `TimeSource`, so a test can run it faster than real time together with
 * the sender.
 *
 * Control routes beside the SES API, for tests that run the endpoint in another process:
 * - `POST /_inkwire/faults` with JSON `{ "throttleShare": 0.5 }` (injected throttling; 204);
 * - `POST /_inkwire/account` with JSON `{ "maxSendRate"?, "max24HourSend"?, "sentLast24Hours"?, "enforceRate"? }`
 *   (changes only the fields given; 200 with the account as `GET /_inkwire/account` shows it);
 * - `GET /_inkwire/stats` (`?acceptedAt=1` adds the accept times).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import MailComposer from 'nodemailer/lib/mail-composer';
import addressparser, { type Address } from 'nodemailer/lib/addressparser';
import { systemTime, type Clock, type TimeSource } from '../core/clock.ts';
import { outboxMessagePaths, type OutboxSidecar } from './outbox-store.ts';
import { decodeHeaderValue, parseHeaderBlock } from './mime-reader.ts';

export const SES_XML_NAMESPACE = 'http://ses.amazonaws.com/doc/2010-12-01/';
const MAX_RAW_BYTES = 10 * 1024 * 1024;
/** The form-encoded request carries the message in base64 (4/3) with some `%2B`-style escapes on top. */
const MAX_REQUEST_BYTES = 3 * MAX_RAW_BYTES;
const TAG_PART = /^[A-Za-z0-9_-]{1,256}$/;
/** The sliding window of the sending rate. */
const RATE_WINDOW_MS = 1000;

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
  /**
   * The account's limits, as GetSendQuota reports them. Default 14/s and 1,000,000 per 24 hours (-1: no
   * daily limit, as SES reports it). `Max24HourSend` is always enforced; `maxSendRate` only with
   * `enforceRate`. `sentLast24Hours` seeds the 24-hour count as if that much had been sent at start.
   */
  quota?: { maxSendRate?: number; max24HourSend?: number; sentLast24Hours?: number };
  /**
   * Refuse a send that would put more than `max(1, floor(maxSendRate))` recipients into any sliding
   * 1000 ms (of `time`, taken when the request arrives) with `Throttling` "Maximum sending rate
   * exceeded.", storing nothing. Default false: the rate is only reported.
   */
  enforceRate?: boolean;
  /** When given, any other `ConfigurationSetName` is refused with `ConfigurationSetDoesNotExist`, as SES does. */
  configurationSets?: string[];
  /**
   * The time every decision runs on: the rate window, the 24-hour count, message ids and timestamps.
   * Default `systemTime`; a `ScaledTime` shared with the sender runs both faster than real time.
   */
  time?: TimeSource;
  /** @deprecated A `Clock` only (e.g. `FixedClock`); used when `time` is absent. */
  clock?: Clock;
  /** Called with each message once it is accepted and stored (the runtime's mailbox simulator publishes its events). */
  onAccepted?: ((message: OutboxSidecar) => void) | undefined;
  /** Where the account-level suppression list (SES v2) is kept across restarts; in memory only when absent. */
  suppressionListFile?: string | undefined;
  /** Per configuration set, the reasons of the account-level list it honours (SES's configuration-set suppression options); both when absent. */
  suppressedReasons?: Record<string, readonly ('BOUNCE' | 'COMPLAINT')[]> | undefined;
}

/** The account settings that can change at run time (`setAccount`, `POST /_inkwire/account`). */
export interface SesAccountSettings {
  maxSendRate?: number;
  /** -1: no daily limit. */
  max24HourSend?: number;
  /** Replaces the 24-hour count: it is as if exactly this many had been sent now (and the rest longer ago). */
  sentLast24Hours?: number;
  enforceRate?: boolean;
}

export interface SesAccount {
  maxSendRate: number;
  max24HourSend: number;
  sentLast24Hours: number;
  enforceRate: boolean;
  /** What `maxSendRate` allows in any sliding second: `max(1, floor(maxSendRate))`. */
  perSecondLimit: number;
}

export interface SesEndpointStats {
  /** SendRawEmail/SendEmail calls accepted. */
  accepted: number;
  /** Recipients accepted: what SES counts as messages against the rate and the quota. */
  acceptedRecipients: number;
  /** Every `Throttling` answer: `throttledInjected + throttledRate + throttledDailyQuota`. */
  throttled: number;
  /** Throttled by the `throttleShare` fault. */
  throttledInjected: number;
  /** Throttled by the enforced sending rate. */
  throttledRate: number;
  /** Throttled by `Max24HourSend`. */
  throttledDailyQuota: number;
  rejected: number;
  /** Recipients in the sliding 24-hour count (including a seeded amount), as GetSendQuota reports. */
  sentLast24Hours: number;
  /** Most recipients accepted within any sliding 1000 ms so far (on the endpoint's time). */
  maxPerSecond: number;
  /** Arrival (ISO, on the endpoint's time) of the first and the last accepted call; absent before one. */
  firstAcceptedAt?: string;
  lastAcceptedAt?: string;
}

export interface SesEndpoint {
  /** `http://127.0.0.1:<port>`: give it to `new SESClient({ endpoint })`. */
  url: string;
  port: number;
  outboxDir: string;
  stats(): SesEndpointStats;
  /**
   * Arrival times (ms on the endpoint's time) of the accepted recipients, ascending, one entry per
   * recipient: a message to 3 destinations appears 3 times. A copy.
   */
  readonly acceptedAt: number[];
  /** Replaces the fault settings; takes effect with the next request. */
  setFaults(faults: SesFaults): void;
  /** Changes the fields given (see `SesAccountSettings`); throws on an invalid value, changing nothing. */
  setAccount(settings: SesAccountSettings): SesAccount;
  account(): SesAccount;
  /**
   * Whether SES would suppress a message to the address sent through this configuration set: the address is
   * on the account-level list for a reason the set honours (SES then delivers nothing and reports a bounce).
   */
  isSuppressed(address: string, configurationSet?: string): boolean;
  stop(): Promise<void>;
}

class SesFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
    readonly status = 400,
    /** For `Throttling`: which limit answered. */
    readonly throttle?: 'injected' | 'rate' | 'dailyQuota',
  ) {
    super(message);
  }
}

const rateExceeded = (why: 'injected' | 'rate') => new SesFault('Throttling', 'Maximum sending rate exceeded.', 'Sender', 400, why);

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** SES prints quota figures as doubles (`200.0`). */
const xmlNumber = (n: number) => (Number.isInteger(n) ? n.toFixed(1) : String(n));

/**
 * Counts per minute over a rolling day: 1,441 numbers, whatever the traffic. A count stays in the total for
 * at least 24 hours and at most 24 hours and a minute: never less than SES would count.
 */
class RollingDay {
  private static readonly SLOTS = 1441;
  private readonly counts = new Float64Array(RollingDay.SLOTS);
  private readonly minutes = new Float64Array(RollingDay.SLOTS).fill(-Infinity);
  add(nowMs: number, n: number): void {
    const minute = Math.floor(nowMs / 60_000);
    const slot = ((minute % RollingDay.SLOTS) + RollingDay.SLOTS) % RollingDay.SLOTS;
    if (this.minutes[slot] !== minute) {
      this.minutes[slot] = minute;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += n;
  }
  /** Takes back what `add` put in at the same time (a send that failed after it was counted). */
  remove(nowMs: number, n: number): void {
    const minute = Math.floor(nowMs / 60_000);
    const slot = ((minute % RollingDay.SLOTS) + RollingDay.SLOTS) % RollingDay.SLOTS;
    if (this.minutes[slot] === minute) this.counts[slot] = Math.max(0, this.counts[slot]! - n);
  }
  total(nowMs: number): number {
    const minute = Math.floor(nowMs / 60_000);
    let sum = 0;
    for (let i = 0; i < RollingDay.SLOTS; i++) if (this.minutes[i]! >= minute - 1440) sum += this.counts[i]!;
    return sum;
  }
  clear(): void {
    this.counts.fill(0);
    this.minutes.fill(-Infinity);
  }
}

/** First index in ascending `a` whose value is greater than `x`. */
function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Accept times, one per recipient, kept sorted (requests can finish out of arrival order), and the most
 * found in any window `[a, a + RATE_WINDOW_MS)`.
 */
class AcceptLog {
  readonly times: number[] = [];
  maxPerWindow = 0;

  /** The most entries any window containing `t` would hold with `n` more at `t`. */
  peakWith(t: number, n: number): number {
    const a = this.times;
    const first = upperBound(a, t - RATE_WINDOW_MS); // the earliest entry a window containing t can start at
    const afterT = upperBound(a, t);
    if (afterT === a.length) return a.length - first + n; // the usual case: nothing later than t
    // The fullest window containing t starts at t or at an entry before it: try each, right edge following.
    let best = 0;
    let end = first;
    for (let k = first; k <= afterT; k++) {
      const start = k < afterT ? a[k]! : t;
      while (end < a.length && a[end]! < start + RATE_WINDOW_MS) end++;
      best = Math.max(best, end - k + n);
    }
    return best;
  }

  add(t: number, n: number, peak: number): void {
    const a = this.times;
    if (a.length === 0 || a[a.length - 1]! <= t) for (let i = 0; i < n; i++) a.push(t);
    else a.splice(upperBound(a, t), 0, ...new Array<number>(n).fill(t));
    this.maxPerWindow = Math.max(this.maxPerWindow, peak);
  }

  remove(t: number, n: number): void {
    const a = this.times;
    const end = upperBound(a, t);
    const start = Math.max(0, end - n);
    if (a[start] !== t) return;
    a.splice(start, end - start);
    // Rare (a send that failed after being counted): recount the maximum from scratch.
    let best = 0;
    for (let k = 0, j = 0; k < a.length; k++) {
      while (j < a.length && a[j]! < a[k]! + RATE_WINDOW_MS) j++;
      best = Math.max(best, j - k);
    }
    this.maxPerWindow = best;
  }
}

/** A `Clock` as a `TimeSource` (waiting in real time), for callers that still pass `clock`. */
function timeFromClock(clock: Clock): TimeSource {
  return { now: () => clock.now(), nowMs: () => clock.now().getTime(), sleep: systemTime.sleep };
}

/** Checks a settings object (from JSON or code) and returns the error message, if any. */
function accountSettingsError(s: Record<string, unknown>): string | undefined {
  const known = new Set(['maxSendRate', 'max24HourSend', 'sentLast24Hours', 'enforceRate']);
  const unknown = Object.keys(s).filter((k) => !known.has(k));
  if (unknown.length) return `unknown account setting(s): ${unknown.join(', ')}`;
  const { maxSendRate, max24HourSend, sentLast24Hours, enforceRate } = s;
  if (maxSendRate !== undefined && !(typeof maxSendRate === 'number' && Number.isFinite(maxSendRate) && maxSendRate > 0))
    return 'maxSendRate must be a positive number';
  if (max24HourSend !== undefined && !(typeof max24HourSend === 'number' && Number.isFinite(max24HourSend) && (max24HourSend >= 0 || max24HourSend === -1))) {
    return 'max24HourSend must be a number from 0 up, or -1 for no limit';
  }
  if (sentLast24Hours !== undefined && !(typeof sentLast24Hours === 'number' && Number.isFinite(sentLast24Hours) && sentLast24Hours >= 0))
    return 'sentLast24Hours must be a number from 0 up';
  if (enforceRate !== undefined && typeof enforceRate !== 'boolean') return 'enforceRate must be true or false';
  return undefined;
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
      throw new SesFault(
        'InvalidParameterValue',
        `Invalid tag name or value <${name}=${value}>: only ASCII letters, numbers, underscores and dashes are allowed.`,
      );
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
  const time = options.time ?? (options.clock ? timeFromClock(options.clock) : systemTime);
  const outboxDir = options.outboxDir;
  const configurationSets = options.configurationSets ? new Set(options.configurationSets) : undefined;
  let faults: SesFaults = { ...options.faults };
  const counters = { accepted: 0, rejected: 0, throttledInjected: 0, throttledRate: 0, throttledDailyQuota: 0 };
  const day = new RollingDay();
  const accepts = new AcceptLog();
  let firstAcceptedMs: number | undefined;
  let lastAcceptedMs: number | undefined;
  let maxSendRate = 14;
  let max24HourSend = 1_000_000;
  let enforceRate = false;
  setAccount({ ...options.quota, ...(options.enforceRate !== undefined ? { enforceRate: options.enforceRate } : {}) });
  // The account-level suppression list, by lower-cased address.
  const suppressionList = new Map<string, { EmailAddress: string; Reason: 'BOUNCE' | 'COMPLAINT'; LastUpdateTime: string }>();
  if (options.suppressionListFile) {
    try {
      for (const e of JSON.parse(await readFile(options.suppressionListFile, 'utf8')) as {
        EmailAddress: string;
        Reason: 'BOUNCE' | 'COMPLAINT';
        LastUpdateTime: string;
      }[])
        suppressionList.set(e.EmailAddress.toLowerCase(), e);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  // Writes one at a time (each writes the whole list as it is then), through a temporary file and a rename.
  let saving: Promise<void> = Promise.resolve();
  const saveSuppressionList = (): Promise<void> => {
    const file = options.suppressionListFile;
    if (!file) return Promise.resolve();
    saving = saving
      .catch(() => undefined)
      .then(async () => {
        await writeFile(`${file}.tmp`, JSON.stringify([...suppressionList.values()], null, 2));
        await rename(`${file}.tmp`, file);
      });
    return saving;
  };
  const knownDirs = new Set<string>();
  let lastMs = -1;
  let seq = 0;

  function account(): SesAccount {
    return { maxSendRate, max24HourSend, sentLast24Hours: day.total(time.nowMs()), enforceRate, perSecondLimit: perSecondLimit() };
  }

  function setAccount(settings: SesAccountSettings): SesAccount {
    const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    const error = accountSettingsError(defined);
    if (error) throw new RangeError(error);
    if (settings.maxSendRate !== undefined) maxSendRate = settings.maxSendRate;
    if (settings.max24HourSend !== undefined) max24HourSend = settings.max24HourSend;
    if (settings.enforceRate !== undefined) enforceRate = settings.enforceRate;
    if (settings.sentLast24Hours !== undefined) {
      day.clear();
      day.add(time.nowMs(), settings.sentLast24Hours);
    }
    return account();
  }

  function perSecondLimit(): number {
    return Math.max(1, Math.floor(maxSendRate));
  }

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
    options.onAccepted?.(full);
    return messageId;
  }

  function checkSendPreconditions(params: URLSearchParams, recipients: number): void {
    const set = params.get('ConfigurationSetName') ?? undefined;
    if (set !== undefined && configurationSets && !configurationSets.has(set)) {
      throw new SesFault('ConfigurationSetDoesNotExist', `Configuration set <${set}> does not exist.`);
    }
    if (recipients === 0) throw new SesFault('InvalidParameterValue', "Missing final '@domain'");
    if (recipients > 50) throw new SesFault('InvalidParameterValue', 'Recipient count exceeds 50.');
  }

  /**
   * Decides, in one synchronous step, whether the account takes `recipients` more at `arrivalMs`, and if so
   * counts them at once (so concurrent requests cannot all slip under a limit). Returns what takes them
   * back, for a message that then fails to be stored.
   */
  function admit(recipients: number, arrivalMs: number): () => void {
    const share = faults.throttleShare ?? 0;
    if (share > 0 && (faults.random ?? Math.random)() < share) throw rateExceeded('injected');
    if (max24HourSend !== -1 && day.total(arrivalMs) + recipients > max24HourSend) {
      throw new SesFault('Throttling', 'Daily message quota exceeded.', 'Sender', 400, 'dailyQuota');
    }
    const peak = accepts.peakWith(arrivalMs, recipients);
    if (enforceRate && peak > perSecondLimit()) throw rateExceeded('rate');
    accepts.add(arrivalMs, recipients, peak);
    day.add(arrivalMs, recipients);
    return () => {
      accepts.remove(arrivalMs, recipients);
      day.remove(arrivalMs, recipients);
    };
  }

  /** Admits, then stores; takes the admission back if storing fails. */
  async function admitAndStore(recipients: number, arrivalMs: number, build: () => Promise<string>): Promise<string> {
    const release = admit(recipients, arrivalMs);
    try {
      return await build();
    } catch (e) {
      release();
      throw e;
    }
  }

  function accepted(arrivalMs: number): void {
    counters.accepted++;
    if (firstAcceptedMs === undefined || arrivalMs < firstAcceptedMs) firstAcceptedMs = arrivalMs;
    if (lastAcceptedMs === undefined || arrivalMs > lastAcceptedMs) lastAcceptedMs = arrivalMs;
  }

  async function sendRawEmail(params: URLSearchParams, arrivalMs: number): Promise<string> {
    const now = new Date(Math.floor(arrivalMs));
    const data = (params.get('RawMessage.Data') ?? '').replace(/ /g, '+').replace(/\s+/g, '');
    if (!data)
      throw new SesFault(
        'ValidationError',
        "1 validation error detected: Value null at 'rawMessage.data' failed to satisfy constraint: Member must not be null",
      );
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new SesFault('InvalidParameterValue', 'RawMessage.Data is not valid base64.');
    const raw = Buffer.from(data, 'base64');
    if (raw.byteLength > MAX_RAW_BYTES) throw new SesFault('MessageRejected', 'Message length is more than 10485760 bytes long.');
    const text = raw.toString('latin1');
    const sep = /\r?\n\r?\n/.exec(text);
    const headers = parseHeaderBlock(sep ? text.slice(0, sep.index) : text);
    const get = (name: string) => headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
    const source = params.get('Source') ?? undefined;
    const from = get('from')[0];
    if (!from && !source) throw new SesFault('MessageRejected', "Missing required header 'From'.");
    let destinations = listParam(params, 'Destinations');
    if (destinations.length === 0) destinations = addresses(addressparser([...get('to'), ...get('cc'), ...get('bcc')].join(', ')));
    const tags = tagsParam(params);
    checkSendPreconditions(params, destinations.length);
    const subject = get('subject')[0];
    const to = get('to')[0];
    return admitAndStore(destinations.length, arrivalMs, () =>
      store(
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
      ),
    );
  }

  async function sendEmail(params: URLSearchParams, arrivalMs: number): Promise<string> {
    const now = new Date(Math.floor(arrivalMs));
    const source = params.get('Source');
    if (!source)
      throw new SesFault('ValidationError', "1 validation error detected: Value null at 'source' failed to satisfy constraint: Member must not be null");
    const to = listParam(params, 'Destination.ToAddresses');
    const cc = listParam(params, 'Destination.CcAddresses');
    const bcc = listParam(params, 'Destination.BccAddresses');
    const destinations = [...to, ...cc, ...bcc];
    const tags = tagsParam(params);
    checkSendPreconditions(params, destinations.length);
    const subject = params.get('Message.Subject.Data') ?? '';
    const text = params.get('Message.Body.Text.Data') ?? undefined;
    const htmlBody = params.get('Message.Body.Html.Data') ?? undefined;
    if (text === undefined && htmlBody === undefined) throw new SesFault('InvalidParameterValue', 'Message body must contain Text or Html.');
    const replyTo = listParam(params, 'ReplyToAddresses');
    return admitAndStore(destinations.length, arrivalMs, async () => {
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
      return store(
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
    });
  }

  function respond(res: ServerResponse, status: number, requestId: string, xml: string): void {
    res.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId, 'Content-Length': Buffer.byteLength(xml) });
    res.end(xml);
  }

  function result(action: string, requestId: string, inner: string): string {
    return `<${action}Response xmlns="${SES_XML_NAMESPACE}">\n  <${action}Result>\n${inner}  </${action}Result>\n  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`;
  }

  function json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/_inkwire/stats' && req.method === 'GET') {
      const withTimes = ['1', 'true'].includes(url.searchParams.get('acceptedAt') ?? '');
      return json(res, 200, withTimes ? { ...stats(), acceptedAt: accepts.times } : stats());
    }
    if (path === '/_inkwire/account' && req.method === 'GET') return json(res, 200, account());
    if (path === '/_inkwire/account' && req.method === 'POST') {
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
      } catch {
        return json(res, 400, { message: 'the body must be a JSON object' });
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return json(res, 400, { message: 'the body must be a JSON object' });
      const error = accountSettingsError(body as Record<string, unknown>);
      if (error) return json(res, 400, { message: error });
      return json(res, 200, setAccount(body as SesAccountSettings));
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

  /**
   * SES v2's account-level suppression list (REST JSON, as `SESv2Client` speaks it): PUT
   * `/v2/email/suppression/addresses` `{ EmailAddress, Reason }`, GET and DELETE `.../addresses/{address}`.
   */
  async function handleSuppressionList(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const requestId = randomUUID();
    const restError = (status: number, type: string, message: string) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': type });
      res.end(JSON.stringify({ message }));
    };
    const ok = (body: unknown) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'x-amzn-RequestId': requestId });
      res.end(JSON.stringify(body));
    };
    const base = '/v2/email/suppression/addresses';
    if (url.pathname === base && req.method === 'PUT') {
      let body: { EmailAddress?: unknown; Reason?: unknown };
      try {
        body = JSON.parse((await readBody(req)).toString('utf8')) as typeof body;
      } catch {
        return restError(400, 'BadRequestException', 'The request body is not JSON.');
      }
      if (typeof body.EmailAddress !== 'string' || !body.EmailAddress.includes('@'))
        return restError(400, 'BadRequestException', 'EmailAddress must be an email address.');
      if (body.Reason !== 'BOUNCE' && body.Reason !== 'COMPLAINT') return restError(400, 'BadRequestException', 'Reason must be BOUNCE or COMPLAINT.');
      suppressionList.set(body.EmailAddress.toLowerCase(), { EmailAddress: body.EmailAddress, Reason: body.Reason, LastUpdateTime: time.now().toISOString() });
      await saveSuppressionList();
      return ok({});
    }
    if (url.pathname.startsWith(`${base}/`) && (req.method === 'GET' || req.method === 'DELETE')) {
      const address = decodeURIComponent(url.pathname.slice(base.length + 1)).toLowerCase();
      const entry = suppressionList.get(address);
      if (!entry) return restError(404, 'NotFoundException', `Email address ${address} does not exist on your suppression list.`);
      if (req.method === 'GET') return ok({ SuppressedDestination: { ...entry, LastUpdateTime: Date.parse(entry.LastUpdateTime) / 1000 } });
      suppressionList.delete(address);
      await saveSuppressionList();
      return ok({});
    }
    return restError(404, 'NotFoundException', `${req.method ?? ''} ${url.pathname} is not supported by this endpoint.`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/_inkwire/')) return handleControl(req, res, url);
    if (url.pathname.startsWith('/v2/email/suppression/')) return handleSuppressionList(req, res, url);
    // Where the account's limits are measured: as the request arrives, before its body is read.
    const arrivalMs = time.nowMs();
    try {
      let params: URLSearchParams;
      if (req.method === 'POST') params = new URLSearchParams((await readBody(req)).toString('utf8'));
      else if (req.method === 'GET') params = url.searchParams;
      else throw new SesFault('InvalidHttpRequest', `Method ${req.method ?? ''} is not supported.`, 'Sender', 405);
      const action = params.get('Action') ?? '';
      switch (action) {
        case 'SendRawEmail': {
          const id = await sendRawEmail(params, arrivalMs);
          accepted(arrivalMs);
          return respond(res, 200, requestId, result(action, requestId, `    <MessageId>${id}</MessageId>\n`));
        }
        case 'SendEmail': {
          const id = await sendEmail(params, arrivalMs);
          accepted(arrivalMs);
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
              `    <SentLast24Hours>${xmlNumber(day.total(time.nowMs()))}</SentLast24Hours>\n    <Max24HourSend>${xmlNumber(max24HourSend)}</Max24HourSend>\n    <MaxSendRate>${xmlNumber(maxSendRate)}</MaxSendRate>\n`,
            ),
          );
        default:
          throw new SesFault('InvalidAction', `The action ${action || '(none)'} is not valid for this endpoint.`);
      }
    } catch (e) {
      const fault =
        e instanceof SesFault ? e : new SesFault('InternalFailure', 'The request processing has failed because of an unknown error.', 'Receiver', 500);
      if (!(e instanceof SesFault)) console.error('local SES endpoint:', e);
      if (fault.throttle === 'dailyQuota') counters.throttledDailyQuota++;
      else if (fault.throttle === 'rate') counters.throttledRate++;
      else if (fault.throttle === 'injected') counters.throttledInjected++;
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
    const { accepted, rejected, throttledInjected, throttledRate, throttledDailyQuota } = counters;
    return {
      accepted,
      acceptedRecipients: accepts.times.length,
      throttled: throttledInjected + throttledRate + throttledDailyQuota,
      throttledInjected,
      throttledRate,
      throttledDailyQuota,
      rejected,
      sentLast24Hours: day.total(time.nowMs()),
      maxPerSecond: accepts.maxPerWindow,
      ...(firstAcceptedMs !== undefined ? { firstAcceptedAt: new Date(Math.floor(firstAcceptedMs)).toISOString() } : {}),
      ...(lastAcceptedMs !== undefined ? { lastAcceptedAt: new Date(Math.floor(lastAcceptedMs)).toISOString() } : {}),
    };
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
    get acceptedAt() {
      return [...accepts.times];
    },
    setFaults(next: SesFaults) {
      faults = { ...next };
    },
    setAccount,
    account,
    isSuppressed: (address: string, configurationSet?: string) => {
      const entry = suppressionList.get(address.trim().toLowerCase());
      const honoured = (configurationSet !== undefined ? options.suppressedReasons?.[configurationSet] : undefined) ?? ['BOUNCE', 'COMPLAINT'];
      return entry !== undefined && honoured.includes(entry.Reason);
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
