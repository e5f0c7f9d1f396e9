import type { Readable } from 'node:stream';
import type { ImportOptions, ImportReport } from './import.ts';

/**
 * Subscriber jobs: a CSV import or export that runs off the request, for files too large for one HTTP
 * exchange (API Gateway and Lambda take at most 6 MB and 15 s). The file itself never passes through the
 * API: the client PUTs an import to an upload URL and GETs an export from a download URL.
 */

/** What is stored. `expired` (an upload URL that ran out unused) is derived when a job is read. */
export type StoredImportStatus = 'awaiting-upload' | 'running' | 'completed' | 'failed';
export type StoredExportStatus = 'running' | 'completed' | 'failed';

interface JobCommon {
  id: string;
  /** ISO 8601 times. */
  createdAt: string;
  updatedAt: string;
  startedAt?: string | undefined;
  /** Written every few seconds while a run is alive; a running job without one for long has stopped. */
  heartbeatAt?: string | undefined;
  finishedAt?: string | undefined;
  /** CSV data rows read (import) or written (export) so far. */
  rows: number;
  /** Size of the file in bytes, once known. */
  bytes?: number | undefined;
  /** Why the job failed, written for the publisher. */
  reason?: string | undefined;
}

export interface ImportJob extends JobCommon {
  kind: 'import';
  status: StoredImportStatus;
  options: ImportOptions;
  /** When the upload URL stops working. */
  uploadExpiresAt: string;
  /** Set when the job completed. */
  report?: ImportReport | undefined;
}

export interface ExportJob extends JobCommon {
  kind: 'export';
  status: StoredExportStatus;
  /** Runs started (a queue message may be delivered again after a run died). */
  attempts: number;
}

export type SubscriberJob = ImportJob | ExportJob;

export interface JobResult {
  status: 'completed' | 'failed';
  at: string;
  rows: number;
  bytes?: number | undefined;
  report?: ImportReport | undefined;
  reason?: string | undefined;
}

/** Where jobs are recorded. Every state change is conditional, so repeated events change nothing. */
export interface SubscriberJobRepository {
  create(job: SubscriberJob): Promise<void>;
  get(id: string): Promise<SubscriberJob | undefined>;
  /**
   * `awaiting-upload` → `running`. Undefined when the job is not an import awaiting its upload (it ran
   * already, or is running: a repeated upload notification).
   */
  claimImport(id: string, at: string): Promise<ImportJob | undefined>;
  /**
   * Starts a run of a `running` export that no run holds: never started, or silent since `staleBefore`
   * (the run before died). Undefined otherwise.
   */
  claimExport(id: string, at: string, staleBefore: string): Promise<ExportJob | undefined>;
  /** Records progress of a running job (and that its run is alive). */
  heartbeat(id: string, rows: number, at: string): Promise<void>;
  /** `running` → completed or failed. False when the job was not running. */
  finish(id: string, result: JobResult): Promise<boolean>;
}

/**
 * Files of jobs, under `imports/` and `exports/` (S3 in AWS, a folder locally). The API hands out URLs;
 * the job runs read and write the files as streams.
 */
export interface UploadStore {
  /** A URL the client PUTs the file to, with these headers, for `expiresInSeconds`. */
  uploadUrl(key: string, options: { contentType: string; expiresInSeconds: number }): Promise<{ url: string; headers: Record<string, string> }>;
  /** A URL the client GETs the file from, as an attachment named `filename`. */
  downloadUrl(key: string, options: { contentType: string; filename: string; expiresInSeconds: number }): Promise<string>;
  /** The file as a stream, or undefined when there is none. */
  open(key: string): Promise<{ body: Readable; size: number } | undefined>;
  /** Writes a file from a stream of chunks without holding it whole; nothing is left behind on failure. */
  write(key: string, chunks: AsyncIterable<string | Uint8Array>, options: { contentType: string }): Promise<{ bytes: number }>;
  delete(key: string): Promise<void>;
}

/** Work the API hands to the jobs function. */
export type JobMessage = { kind: 'export'; jobId: string };

export interface JobQueue {
  enqueue(message: JobMessage): Promise<void>;
}

/** A queue message body as a JobMessage, or undefined when it is not one. */
export function parseJobMessage(body: string): JobMessage | undefined {
  try {
    const m = JSON.parse(body) as Partial<JobMessage>;
    if (m && m.kind === 'export' && typeof m.jobId === 'string' && /^[0-9a-z]{1,64}$/.test(m.jobId)) return { kind: 'export', jobId: m.jobId };
  } catch {
    /* not JSON */
  }
  return undefined;
}

export const importKey = (id: string) => `imports/${id}.csv`;
export const exportKey = (id: string) => `exports/${id}.csv`;

/** The job id of an import's upload key, or undefined for any other key. */
export function importIdFromKey(key: string): string | undefined {
  return /^imports\/([0-9a-z]{1,64})\.csv$/.exec(key)?.[1];
}
