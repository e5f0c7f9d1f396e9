import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { exportSubscribersCsv } from './export.ts';
import { importSubscribers, type ImportDeps, type ImportItem, type ImportOptions, type ImportReport } from './import.ts';
import { csvItems } from './import-csv.ts';
import type { SubscriberRepository } from './ports.ts';
import {
  exportKey,
  importIdFromKey,
  importKey,
  type ExportJob,
  type ImportJob,
  type JobQueue,
  type SubscriberJobRepository,
  type UploadStore,
} from './jobs-ports.ts';

export * from './jobs-ports.ts';

/** How long an upload URL works. A 100 MB file takes minutes on a slow line; S3 checks the time when the PUT starts. */
export const UPLOAD_URL_SECONDS = 60 * 60;
/** How long a download URL works. */
export const DOWNLOAD_URL_SECONDS = 15 * 60;
/** How long an export's file is kept (the bucket's lifecycle deletes it after a day, rounded up to midnight UTC). */
export const EXPORT_FILE_HOURS = 24;
/** Job records are deleted (TTL) this long after they were created. */
export const JOB_RECORD_DAYS = 30;
/** How often a running job records its progress. */
export const HEARTBEAT_MS = 10_000;
/** A running job silent for this long has stopped (its process died); it is shown as failed. */
export const STALE_AFTER_MS = 5 * 60_000;
/** A run stops reading this long before its time is up, to record what it did. */
const STOP_BEFORE_END_MS = 60_000;

export const CSV_CONTENT_TYPE = 'text/csv';
export const EXPORT_CONTENT_TYPE = 'text/csv; charset=utf-8';

/** What the API needs to create and show jobs. */
export interface SubscriberJobDeps {
  jobs: SubscriberJobRepository;
  uploads: UploadStore;
  queue: JobQueue;
  clock: Clock;
  /** Largest CSV an import accepts. */
  maxImportBytes: number;
  log?: ((msg: string, detail?: unknown) => void) | undefined;
}

/** What an import run needs: the jobs and what an import needs of the subscriber feature (no mail). */
export interface ImportRunDeps extends Omit<SubscriberJobDeps, 'queue'> {
  subscribers: ImportDeps;
}

/** What an export run needs: the jobs and the subscriber list. */
export interface ExportRunDeps extends Omit<SubscriberJobDeps, 'queue' | 'maxImportBytes'> {
  subscribers: Pick<SubscriberRepository, 'all'>;
}

export type ImportJobStatus = ImportJob['status'] | 'expired';
export type ExportJobStatus = ExportJob['status'] | 'expired';

export interface ImportJobView {
  id: string;
  status: ImportJobStatus;
  options: ImportOptions;
  createdAt: string;
  uploadExpiresAt: string;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  rows: number;
  bytes?: number | undefined;
  maxBytes: number;
  report?: ImportReport | undefined;
  reason?: string | undefined;
}

export interface ExportJobView {
  id: string;
  status: ExportJobStatus;
  createdAt: string;
  startedAt?: string | undefined;
  finishedAt?: string | undefined;
  rows: number;
  bytes?: number | undefined;
  download?: { url: string; expiresAt: string } | undefined;
  reason?: string | undefined;
}

const iso = (d: Date) => d.toISOString();
const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

function stopped(job: ImportJob | ExportJob, now: Date): boolean {
  if (job.status !== 'running') return false;
  const last = job.heartbeatAt ?? job.startedAt ?? job.createdAt;
  return now.getTime() - Date.parse(last) > STALE_AFTER_MS;
}

// ---------------------------------------------------------------------------------------------
// Import jobs

/**
 * Records an import job awaiting its file and returns the URL to PUT the CSV to. The import starts when
 * the file arrives (an S3 notification in AWS; locally the upload route).
 */
export async function createImportJob(
  deps: SubscriberJobDeps,
  options: ImportOptions,
): Promise<{ job: ImportJobView; upload: { method: 'PUT'; url: string; headers: Record<string, string>; expiresAt: string } }> {
  const now = deps.clock.now();
  const id = newId(now);
  const expiresAt = plus(now, UPLOAD_URL_SECONDS * 1000);
  const job: ImportJob = {
    kind: 'import',
    id,
    status: 'awaiting-upload',
    options,
    createdAt: iso(now),
    updatedAt: iso(now),
    uploadExpiresAt: iso(expiresAt),
    rows: 0,
  };
  await deps.jobs.create(job);
  const target = await deps.uploads.uploadUrl(importKey(id), { contentType: CSV_CONTENT_TYPE, expiresInSeconds: UPLOAD_URL_SECONDS });
  return { job: importView(job, now, deps.maxImportBytes), upload: { method: 'PUT', url: target.url, headers: target.headers, expiresAt: iso(expiresAt) } };
}

export async function getImportJob(deps: Pick<SubscriberJobDeps, 'jobs' | 'clock' | 'maxImportBytes'>, id: string): Promise<ImportJobView> {
  const job = await deps.jobs.get(id);
  if (job?.kind !== 'import') throw new AppError('job.notFound', `no import job ${id}; jobs are kept ${JOB_RECORD_DAYS} days`);
  return importView(job, deps.clock.now(), deps.maxImportBytes);
}

function importView(job: ImportJob, now: Date, maxBytes: number): ImportJobView {
  let status: ImportJobStatus = job.status;
  let reason = job.reason;
  if (job.status === 'awaiting-upload' && now.getTime() > Date.parse(job.uploadExpiresAt)) {
    status = 'expired';
    reason = 'no file was uploaded before the upload URL expired; create a new import job';
  } else if (stopped(job, now)) {
    status = 'failed';
    reason = `the import stopped without finishing (its process ended) after ${job.rows} rows; the rows before were imported, and importing the same file again in a new job is safe`;
  }
  return {
    id: job.id,
    status,
    options: job.options,
    createdAt: job.createdAt,
    uploadExpiresAt: job.uploadExpiresAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    rows: job.rows,
    ...(job.bytes !== undefined ? { bytes: job.bytes } : {}),
    maxBytes,
    ...(job.report ? { report: job.report } : {}),
    ...(reason ? { reason } : {}),
  };
}

class OutOfTime extends Error {
  constructor(readonly what: string) {
    super(what);
    this.name = 'OutOfTime';
  }
}

/** Keeps a run's heartbeat (and row count) in the job record while it works. */
function heartbeat(deps: Pick<SubscriberJobDeps, 'jobs' | 'clock' | 'log'>, id: string, rows: () => number): { stop(): Promise<void> } {
  let writing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    writing = writing.then(() =>
      deps.jobs.heartbeat(id, rows(), iso(deps.clock.now())).catch((e: unknown) => deps.log?.(`job ${id}: could not record progress`, e)),
    );
  }, HEARTBEAT_MS);
  timer.unref?.();
  return {
    stop: async () => {
      clearInterval(timer);
      await writing;
    },
  };
}

/**
 * Runs an import whose file has arrived (`key` is the uploaded object). Takes the job from
 * `awaiting-upload` to `running` with a conditional write, so a repeated notification does nothing;
 * streams the file through the same CSV reader and import as the streamed route; records the report or
 * why it failed; and deletes the file (it holds personal data) whatever happened.
 *
 * Returns `ignored` when the key is no import or the job is not awaiting its file. Throws (after recording
 * the failure) only on an unexpected error, so that the function's error metric shows it.
 */
export async function runUploadedImport(
  deps: ImportRunDeps,
  upload: { key: string; size?: number | undefined },
  options: { remainingMs?: (() => number) | undefined } = {},
): Promise<'completed' | 'failed' | 'ignored'> {
  const log = deps.log ?? ((m: string, d?: unknown) => console.error(m, d ?? ''));
  const id = importIdFromKey(upload.key);
  if (!id) {
    log(`import: ignoring an upload that is not an import file: ${upload.key.slice(0, 200)}`);
    return 'ignored';
  }
  const job = await deps.jobs.claimImport(id, iso(deps.clock.now()));
  if (!job) {
    const current = await deps.jobs.get(id);
    // S3 notifies at least once, and an upload URL may be used twice: a file for a job that is done, or
    // for no job at all, is deleted; a job running now deletes its own file when it ends.
    if (current?.kind !== 'import' || current.status !== 'running') await deps.uploads.delete(upload.key);
    log(`import ${id}: not awaiting its file (${current ? `${current.kind} ${current.status}` : 'no such job'}); nothing to do`);
    return 'ignored';
  }

  let rows = 0;
  let bytes = upload.size;
  const beat = heartbeat(deps, id, () => rows);
  const remaining = options.remainingMs;
  let file: Awaited<ReturnType<UploadStore['open']>>;
  try {
    const max = deps.maxImportBytes;
    const tooLarge = (size: number) => new AppError('request.tooLarge', `the file is ${size} bytes; an import may be at most ${max} bytes: split the file`);
    if (bytes !== undefined && bytes > max) throw tooLarge(bytes);
    file = await deps.uploads.open(upload.key);
    if (!file) throw new AppError('request.invalid', 'the uploaded file is gone; create a new import job and upload it again');
    bytes = file.size;
    if (file.size > max) throw tooLarge(file.size);
    const items = async function* (): AsyncGenerator<ImportItem> {
      for await (const item of csvItems(file!.body, max)) {
        if (remaining && remaining() < STOP_BEFORE_END_MS) {
          throw new OutOfTime(
            `the import ran out of time after ${rows} rows (a run may take 15 minutes); the rows before were imported, and importing the same file again in a new job is safe: it skips them. Split the file to import the rest faster`,
          );
        }
        rows++;
        yield item;
      }
    };
    const report = await importSubscribers(deps.subscribers, items(), { ...job.options, importId: job.id });
    await beat.stop();
    await deps.jobs.finish(id, { status: 'completed', at: iso(deps.clock.now()), rows: report.rows, bytes, report: fitReport(report) });
    return 'completed';
  } catch (e) {
    await beat.stop();
    const expected = e instanceof AppError && e.status < 500;
    const reason =
      expected || e instanceof OutOfTime
        ? (e as Error).message
        : `the import stopped after ${rows} rows because of an error on our side (it has been logged); the rows before were imported, and importing the same file again in a new job is safe`;
    await deps.jobs.finish(id, { status: 'failed', at: iso(deps.clock.now()), rows, bytes, reason });
    if (expected || e instanceof OutOfTime) return 'failed';
    throw e;
  } finally {
    file?.body.destroy();
    await deps.uploads.delete(upload.key).catch((e: unknown) => log(`import ${id}: could not delete the uploaded file ${upload.key}`, e));
  }
}

/** The largest report kept in the job record (DynamoDB items hold at most 400 KB). */
const MAX_REPORT_BYTES = 300_000;

/** The report, with fewer listed skipped rows, then errors, when they would not fit in the job record. */
export function fitReport(report: ImportReport, maxBytes = MAX_REPORT_BYTES): ImportReport {
  let fitted = report;
  while (fitted.skipped.length > 0 && Buffer.byteLength(JSON.stringify(fitted)) > maxBytes) {
    fitted = { ...fitted, skipped: fitted.skipped.slice(0, Math.floor(fitted.skipped.length / 2)), skippedTruncated: true };
  }
  while (fitted.errors.length > 0 && Buffer.byteLength(JSON.stringify(fitted)) > maxBytes) {
    fitted = { ...fitted, errors: fitted.errors.slice(0, Math.floor(fitted.errors.length / 2)), errorsTruncated: true };
  }
  return fitted;
}

// ---------------------------------------------------------------------------------------------
// Export jobs

/** Records an export job and queues it; the jobs function writes the file. */
export async function createExportJob(deps: SubscriberJobDeps): Promise<ExportJobView> {
  const now = deps.clock.now();
  const job: ExportJob = { kind: 'export', id: newId(now), status: 'running', createdAt: iso(now), updatedAt: iso(now), rows: 0, attempts: 0 };
  await deps.jobs.create(job);
  try {
    await deps.queue.enqueue({ kind: 'export', jobId: job.id });
  } catch (e) {
    await deps.jobs.finish(job.id, { status: 'failed', at: iso(deps.clock.now()), rows: 0, reason: 'the export could not be queued; try again' });
    throw new AppError('dependency.unavailable', 'the export could not be queued; try again in a moment', { cause: e });
  }
  return exportView(job, now);
}

export async function getExportJob(deps: Pick<SubscriberJobDeps, 'jobs' | 'uploads' | 'clock'>, id: string): Promise<ExportJobView> {
  const job = await deps.jobs.get(id);
  if (job?.kind !== 'export') throw new AppError('job.notFound', `no export job ${id}; jobs are kept ${JOB_RECORD_DAYS} days`);
  const now = deps.clock.now();
  const view = exportView(job, now);
  if (view.status === 'completed') {
    const url = await deps.uploads.downloadUrl(exportKey(job.id), {
      contentType: EXPORT_CONTENT_TYPE,
      filename: `subscribers-${job.createdAt.slice(0, 10)}.csv`,
      expiresInSeconds: DOWNLOAD_URL_SECONDS,
    });
    view.download = { url, expiresAt: iso(plus(now, DOWNLOAD_URL_SECONDS * 1000)) };
  }
  return view;
}

function exportView(job: ExportJob, now: Date): ExportJobView {
  let status: ExportJobStatus = job.status;
  let reason = job.reason;
  if (job.status === 'completed' && job.finishedAt && now.getTime() > Date.parse(job.finishedAt) + EXPORT_FILE_HOURS * 3_600_000) {
    status = 'expired';
    reason = `the file is kept ${EXPORT_FILE_HOURS} hours and has been deleted; start a new export`;
  } else if (stopped(job, now)) {
    status = 'failed';
    reason = 'the export stopped without finishing (its process ended); start a new export';
  }
  return {
    id: job.id,
    status,
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    rows: job.rows,
    ...(job.bytes !== undefined ? { bytes: job.bytes } : {}),
    ...(reason ? { reason } : {}),
  };
}

/**
 * Writes every subscriber as CSV (the format of the streamed export) to the job's file, page by page
 * and part by part, never holding the list. A message delivered again while a run is alive, or after the
 * job ended, does nothing. Throws (after recording the failure) only on an unexpected error.
 */
export async function runExportJob(
  deps: ExportRunDeps,
  jobId: string,
  options: { remainingMs?: (() => number) | undefined } = {},
): Promise<'completed' | 'failed' | 'ignored'> {
  const log = deps.log ?? ((m: string, d?: unknown) => console.error(m, d ?? ''));
  const now = deps.clock.now();
  const job = await deps.jobs.claimExport(jobId, iso(now), iso(new Date(now.getTime() - STALE_AFTER_MS)));
  if (!job) {
    log(`export ${jobId}: already done or running; nothing to do`);
    return 'ignored';
  }
  let rows = 0;
  const beat = heartbeat(deps, jobId, () => rows);
  const remaining = options.remainingMs;
  const counted: Pick<SubscriberRepository, 'all'> = {
    all: async function* () {
      for await (const s of deps.subscribers.all()) {
        if (remaining && remaining() < STOP_BEFORE_END_MS) throw new OutOfTime(`the export ran out of time after ${rows} rows (a run may take 15 minutes)`);
        rows++;
        yield s;
      }
    },
  };
  try {
    const { bytes } = await deps.uploads.write(exportKey(jobId), exportSubscribersCsv({ subscribers: counted as SubscriberRepository }), {
      contentType: EXPORT_CONTENT_TYPE,
    });
    await beat.stop();
    await deps.jobs.finish(jobId, { status: 'completed', at: iso(deps.clock.now()), rows, bytes });
    return 'completed';
  } catch (e) {
    await beat.stop();
    const reason = e instanceof OutOfTime ? e.message : 'the export failed because of an error on our side (it has been logged); start a new export';
    await deps.jobs.finish(jobId, { status: 'failed', at: iso(deps.clock.now()), rows, reason });
    if (e instanceof OutOfTime) return 'failed';
    throw e;
  }
}
