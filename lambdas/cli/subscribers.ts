/** As the API answers it (`SubscriberImportReport` in the API document). */
import type { ImportReport } from '../core/subscribers/import.ts';
import type { FetchFn } from './api.ts';
import type { CommandContext } from './commands.ts';
import { CliError, UsageError } from './errors.ts';
import { collectPages, limitOption, table } from './pages.ts';

/** Files and time, as the subscriber commands use them (streams: a file is never read whole). */
export interface FileIo {
  /** A file to upload: its size and its bytes as a stream. */
  openFile(path: string): Promise<{ size: number; body: ReadableStream<Uint8Array> }>;
  /** Writes a stream to a file; resolves with the bytes written. */
  writeFile(path: string, body: ReadableStream<Uint8Array>): Promise<number>;
  sleep(ms: number): Promise<void>;
}

export interface SubscriberCommandContext extends CommandContext {
  /** Plain HTTP for the upload and download URLs (they carry their own permission; no API key). */
  fetch: FetchFn;
  files: FileIo;
}

interface ImportJob {
  id: string;
  status: 'awaiting-upload' | 'running' | 'completed' | 'failed' | 'expired';
  rows: number;
  maxBytes: number;
  report?: ImportReport;
  reason?: string;
  upload?: { method: string; url: string; headers: Record<string, string>; expiresAt: string };
}

interface ExportJob {
  id: string;
  status: 'running' | 'completed' | 'failed' | 'expired';
  rows: number;
  bytes?: number;
  download?: { url: string; expiresAt: string };
  reason?: string;
}

const CONSENT = ['confirmed', 'none'] as const;
/** Poll quickly at first (small files finish in a second), then every few seconds. */
const pollDelay = (attempt: number) => Math.min(3000, 250 * 2 ** attempt);
/** An upload the service has not started on after this long is reported, not waited on forever. */
const START_TIMEOUT_MS = 2 * 60_000;
const n = (v: number) => v.toLocaleString('en-US');

/** `inkwire subscribers list|find|counts|import|export ...` */
export async function subscribers(ctx: SubscriberCommandContext): Promise<void> {
  const [sub, ...rest] = ctx.args.positionals;
  if (sub === 'import') return importSubscribers(ctx, rest);
  if (sub === 'export') return exportSubscribers(ctx, rest);
  if (sub === 'find') return findSubscriber(ctx, rest);
  if (sub === 'list') return listSubscribers(ctx, rest);
  if (sub === 'counts') return countSubscribers(ctx, rest);
  throw new UsageError(
    sub === undefined
      ? 'subscribers needs "list", "find", "counts", "import" or "export"'
      : `unknown subscribers command "${sub}": use list, find, counts, import or export`,
    'subscribers',
  );
}

const SUBSCRIBER_STATUSES = ['pending', 'confirmed', 'unsubscribed', 'suppressed'] as const;

function onlyOptions(ctx: SubscriberCommandContext, positionals: string[], command: string, allowed: string[]): void {
  if (positionals.length) throw new UsageError(`subscribers ${command} takes no arguments, got: ${positionals.join(' ')}`, 'subscribers');
  const { args } = ctx;
  const given: [string, boolean][] = [
    ['--out', args.out !== undefined],
    ['--consent', args.consent !== undefined],
    ['--send-confirmation', args.sendConfirmation],
    ['--status', args.status !== undefined],
    ['--limit', args.limit !== undefined],
  ];
  const wrong = given.filter(([name, on]) => on && !allowed.includes(name)).map(([name]) => name);
  if (wrong.length)
    throw new UsageError(`${wrong.join(', ')} ${wrong.length > 1 ? 'are not options' : 'is not an option'} of "subscribers ${command}"`, 'subscribers');
}

/** `inkwire subscribers list`: newest first, every page (or `--limit`). */
async function listSubscribers(ctx: SubscriberCommandContext, positionals: string[]): Promise<void> {
  const { args } = ctx;
  onlyOptions(ctx, positionals, 'list', ['--status', '--limit']);
  if (args.status !== undefined && !(SUBSCRIBER_STATUSES as readonly string[]).includes(args.status)) {
    throw new UsageError(`--status must be one of ${SUBSCRIBER_STATUSES.join(', ')}, not "${args.status}"`, 'subscribers');
  }
  const q = new URLSearchParams();
  if (args.status) q.set('status', args.status);
  const items = await collectPages<SubscriberOutput>(ctx.api, '/api/subscribers', q, limitOption(args.limit, 'subscribers'), 'subscribers');
  if (args.json) {
    ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    return;
  }
  if (!items.length) {
    ctx.stdout.write(args.status ? `No ${args.status} subscribers.\n` : 'No subscribers.\n');
    return;
  }
  const rows = items.map((s) => [
    s.id,
    s.status,
    `${s.frequency}${s.paused ? ' (paused)' : ''}`,
    s.topics.length ? s.topics.join(',') : 'all',
    s.createdAt.slice(0, 10),
    s.email,
  ]);
  ctx.stdout.write(table(['ID', 'STATUS', 'FREQUENCY', 'TOPICS', 'SINCE', 'EMAIL'], rows));
}

interface Counts {
  total: number;
  byStatus: Record<(typeof SUBSCRIBER_STATUSES)[number], number>;
  byFrequency: { instant: number; daily: number; weekly: number };
  paused: number;
}

/** `inkwire subscribers counts`: by status, and the confirmed by frequency. */
async function countSubscribers(ctx: SubscriberCommandContext, positionals: string[]): Promise<void> {
  onlyOptions(ctx, positionals, 'counts', []);
  const c = (await ctx.api.request<Counts>('GET', '/api/subscribers/counts')).body;
  if (ctx.args.json) {
    ctx.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
    return;
  }
  const rows = [
    ...SUBSCRIBER_STATUSES.map((st) => [st, n(c.byStatus[st])]),
    ['total', n(c.total)],
    ['', ''],
    ['confirmed, by frequency:', ''],
    ['instant', n(c.byFrequency.instant)],
    ['daily', n(c.byFrequency.daily)],
    ['weekly', n(c.byFrequency.weekly)],
    ['paused', n(c.paused)],
  ];
  const width = Math.max(...rows.map((r) => r[0]!.length));
  ctx.stdout.write(`${rows.map(([k, v]) => (v ? `${k!.padEnd(width)}  ${v.padStart(9)}` : k)).join('\n')}\n`);
}

/** A subscriber as the API answers it (`Subscriber` in the API document). */
interface SubscriberOutput {
  id: string;
  email: string;
  name?: string;
  status: string;
  frequency: string;
  topics: string[];
  paused: boolean;
  createdAt: string;
  confirmedAt?: string;
  source: string;
  suppressedReason?: string;
}

/** `inkwire subscribers find <email>`: the subscriber with that exact address (case-insensitive), or exit 1. */
async function findSubscriber(ctx: SubscriberCommandContext, positionals: string[]): Promise<void> {
  const { args } = ctx;
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length
        ? `subscribers find takes one address, got ${positionals.length}: ${positionals.join(' ')}`
        : 'subscribers find needs an email address',
      'subscribers',
    );
  }
  if (args.out !== undefined || args.consent !== undefined || args.sendConfirmation) {
    throw new UsageError('--out, --consent and --send-confirmation are not options of "subscribers find"', 'subscribers');
  }
  const email = positionals[0]!.trim();
  const page = (await ctx.api.request<{ items: SubscriberOutput[] }>('GET', `/api/subscribers?${new URLSearchParams({ email })}`)).body;
  const s = page.items[0];
  if (!s) throw new CliError(`no subscriber with the address ${email}`);
  if (args.json) {
    ctx.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  const lines = [
    `${s.id}  ${s.email}${s.name ? ` (${s.name})` : ''}`,
    `  status ${s.status}${s.suppressedReason ? ` (${s.suppressedReason})` : ''}, ${s.frequency}${s.paused ? ', paused' : ''}, topics: ${s.topics.length ? s.topics.join(', ') : 'all'}`,
    `  created ${s.createdAt}${s.confirmedAt ? `, confirmed ${s.confirmedAt}` : ''}, source ${s.source}`,
  ];
  ctx.stdout.write(`${lines.join('\n')}\n`);
}

async function importSubscribers(ctx: SubscriberCommandContext, positionals: string[]): Promise<void> {
  const { args } = ctx;
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length ? `subscribers import takes one file, got ${positionals.length}: ${positionals.join(' ')}` : 'subscribers import needs a CSV file',
      'subscribers',
    );
  }
  if (args.out !== undefined) throw new UsageError('--out is an option of "subscribers export"', 'subscribers');
  const consent = args.consent ?? 'none';
  if (!(CONSENT as readonly string[]).includes(consent)) throw new UsageError(`--consent must be confirmed or none, not "${consent}"`, 'subscribers');
  if (consent === 'confirmed' && args.sendConfirmation) {
    throw new UsageError('--send-confirmation only applies to pending rows; with --consent confirmed nothing needs confirming', 'subscribers');
  }
  const path = positionals[0]!;
  let file: Awaited<ReturnType<FileIo['openFile']>>;
  try {
    file = await ctx.files.openFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : (e.message ?? String(err))}`);
  }

  const q = new URLSearchParams({ consent, sendConfirmation: String(args.sendConfirmation) });
  let job: ImportJob;
  try {
    job = (await ctx.api.request<ImportJob>('POST', `/api/subscribers/imports?${q}`)).body;
  } catch (e) {
    await file.body.cancel().catch(() => undefined);
    throw e;
  }
  if (file.size > job.maxBytes) {
    await file.body.cancel().catch(() => undefined);
    throw new CliError(`${path} is ${n(file.size)} bytes; an import may be at most ${n(job.maxBytes)} bytes: split the file`);
  }
  const upload = job.upload;
  if (!upload) throw new CliError('the API created an import job without an upload URL');

  ctx.stderr.write(`inkwire: uploading ${path} (${n(file.size)} bytes) for import ${job.id}\n`);
  let res: Response;
  try {
    // Content-Length, not chunked: S3 takes a presigned PUT only with its length.
    res = await ctx.fetch(upload.url, {
      method: upload.method,
      headers: { ...upload.headers, 'content-length': String(file.size) },
      body: file.body,
      duplex: 'half',
    } as RequestInit);
  } catch (err) {
    throw new CliError(`the upload of ${path} failed: ${(err as Error).message}`, [
      `import job ${job.id} is waiting for its file; run the command again to start over`,
    ]);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    const message = /"message"\s*:\s*"([^"]+)"/.exec(text)?.[1] ?? /<Message>([^<]+)<\/Message>/.exec(text)?.[1] ?? text.replace(/\s+/g, ' ').slice(0, 200);
    throw new CliError(`the upload of ${path} was refused: HTTP ${res.status}${message ? `: ${message}` : ''}`);
  }
  await res.body?.cancel().catch(() => undefined);

  const done = await poll<ImportJob>(ctx, `/api/subscribers/imports/${job.id}`, 'import', (j) => j.status === 'awaiting-upload' || j.status === 'running');
  if (args.json) ctx.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
  if (done.status !== 'completed' || !done.report) throw new CliError(`import ${job.id} ${done.status}: ${done.reason ?? 'no reason given'}`);
  if (!args.json) ctx.stdout.write(describeReport(path, done.id, done.report));
}

function describeReport(path: string, id: string, r: ImportReport): string {
  const lines = [
    `Imported ${path} (job ${id}): ${n(r.rows)} rows`,
    `  created ${n(r.created)} (${r.status}), confirmed ${n(r.confirmed)}, unchanged ${n(r.unchanged)}, duplicates ${n(r.duplicates)}`,
    `  skipped: ${n(r.skippedSuppressed)} suppressed, ${n(r.skippedUnsubscribed)} unsubscribed; refused: ${n(r.invalid)}`,
  ];
  if (r.confirmationsRequested) {
    lines.push(
      `  confirmation emails: ${n(r.confirmationsRequested)} requested${r.confirmationSendId ? `, sent by send ${r.confirmationSendId} (GET /api/sends/${r.confirmationSendId})` : ''}`,
    );
  }
  if (r.errors.length) {
    lines.push('Refused rows:');
    for (const e of r.errors) lines.push(`  line ${e.line}: ${e.message}`);
    if (r.errorsTruncated) lines.push(`  (${n(r.invalid - r.errors.length)} more not listed)`);
  }
  if (r.skipped?.length) {
    lines.push('Skipped rows:');
    for (const e of r.skipped) lines.push(`  line ${e.line}: ${e.reason}`);
    if (r.skippedTruncated) lines.push('  (more not listed)');
  }
  return `${lines.join('\n')}\n`;
}

async function exportSubscribers(ctx: SubscriberCommandContext, positionals: string[]): Promise<void> {
  const { args } = ctx;
  if (positionals.length)
    throw new UsageError(`subscribers export takes no arguments, got: ${positionals.join(' ')} (write to a file with --out)`, 'subscribers');
  if (args.consent !== undefined || args.sendConfirmation)
    throw new UsageError('--consent and --send-confirmation are options of "subscribers import"', 'subscribers');
  if (args.json && args.out === undefined)
    throw new UsageError('--json prints the job; give the file with --out so the CSV does not mix with it', 'subscribers');

  const created = (await ctx.api.request<ExportJob>('POST', '/api/subscribers/exports')).body;
  ctx.stderr.write(`inkwire: exporting subscribers (job ${created.id})\n`);
  const done = await poll<ExportJob>(ctx, `/api/subscribers/exports/${created.id}`, 'export', (j) => j.status === 'running');
  if (done.status !== 'completed' || !done.download) throw new CliError(`export ${created.id} ${done.status}: ${done.reason ?? 'no reason given'}`);

  let res: Response;
  try {
    res = await ctx.fetch(done.download.url);
  } catch (err) {
    throw new CliError(`the download of export ${created.id} failed: ${(err as Error).message}`);
  }
  if (!res.ok || !res.body) throw new CliError(`the download of export ${created.id} was refused: HTTP ${res.status}`);

  if (args.out !== undefined) {
    const bytes = await ctx.files.writeFile(args.out, res.body);
    if (args.json) ctx.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
    else ctx.stdout.write(`Exported ${n(done.rows)} subscribers to ${args.out} (${n(bytes)} bytes)\n`);
    return;
  }
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    ctx.stdout.write(decoder.decode(value, { stream: true }));
  }
  const tail = decoder.decode();
  if (tail) ctx.stdout.write(tail);
  ctx.stderr.write(`inkwire: exported ${n(done.rows)} subscribers\n`);
}

/** Polls a job until `pending` says it is done, telling progress on stderr as its row count moves. */
async function poll<T extends { status: string; rows: number }>(
  ctx: SubscriberCommandContext,
  path: string,
  what: string,
  pending: (job: T) => boolean,
): Promise<T> {
  const started = Date.now();
  let shownRows = 0;
  for (let attempt = 0; ; attempt++) {
    const job = (await ctx.api.request<T>('GET', path)).body;
    if (!pending(job)) return job;
    if (job.status === 'awaiting-upload' && Date.now() - started > START_TIMEOUT_MS) {
      throw new CliError(`the file was uploaded but the ${what} has not started after ${START_TIMEOUT_MS / 60_000} minutes`, [
        `check again later: GET ${path}`,
      ]);
    }
    if (job.rows > shownRows) {
      shownRows = job.rows;
      ctx.stderr.write(`inkwire: ${what}: ${n(job.rows)} rows so far\n`);
    }
    await ctx.files.sleep(pollDelay(attempt));
  }
}
