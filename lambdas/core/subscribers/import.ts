import * as z from 'zod';
import { newId } from '../ids.ts';
import { StaleSubscriber } from './ports.ts';
import { EmailSchema, emailHash, FrequencySchema, NameSchema, SUBSCRIBER_LIMITS, TopicsSchema, type Subscriber } from './schema.ts';
import type { SubscriberDeps } from './use-cases.ts';

/** The CSV columns an import understands; `email` is required, the others optional. */
export const IMPORT_COLUMNS = ['email', 'name', 'frequency', 'topics'] as const;
export type ImportColumn = (typeof IMPORT_COLUMNS)[number];
/**
 * What a row may say, read from Inkwire's own columns or another platform's export (see import-csv.ts):
 * the subscriber's state there (`status`, and Mailchimp's, Ghost's and Substack's flags) and its dates.
 */
export type ImportField =
  | ImportColumn
  | 'firstName'
  | 'lastName'
  | 'status'
  | 'createdAt'
  | 'confirmedAt'
  | 'unsubscribedAt'
  | 'cleanedAt'
  | 'subscribed'
  | 'emailDisabled'
  | 'paused';

/** One data row of the file (`line` is 1-based, the header is line 1), or a row the parser refused. */
export type ImportItem = { line: number; values: Partial<Record<ImportField, string>> } | { line: number; error: string };

export interface ImportOptions {
  /**
   * `confirmed`: the publisher asserts each address gave consent before (e.g. on another platform), so
   * new rows become confirmed at once and pending subscribers are confirmed. `none`: rows become pending.
   */
  consent: 'confirmed' | 'none';
  /**
   * With `consent: 'none'`: ask each pending row to confirm. The rows are marked with the import's id and
   * one confirmation send goes to them through the delivery engine once the file is read (paced, never
   * twice, with progress under `/api/sends`). Without it, pending rows get no mail.
   */
  sendConfirmation: boolean;
  /** Names the import (an import job's id); a new id when absent. */
  importId?: string | undefined;
}

export interface ImportReport {
  /** What new rows became. */
  status: 'confirmed' | 'pending';
  /** Data rows read (the header not counted). */
  rows: number;
  created: number;
  /** Pending subscribers confirmed by the asserted consent. */
  confirmed: number;
  /** Known addresses left as they were (a confirmed subscriber is never downgraded). */
  unchanged: number;
  /** Addresses on the suppression list (bounced, complained, erased) or suppressed: never imported. */
  skippedSuppressed: number;
  /** Subscribers who unsubscribed: an import never subscribes them again. */
  skippedUnsubscribed: number;
  /** Rows repeating an address of a row just before them. */
  duplicates: number;
  invalid: number;
  /** Pending subscribers of this import asked to confirm (new rows and known pending ones). */
  confirmationsRequested: number;
  /** The confirmation send that mails them (`GET /api/sends/{id}`), when any was requested. */
  confirmationSendId?: string | undefined;
  /** Each refused row, by line; at most {@link MAX_LISTED_ERRORS} are listed. */
  errors: { line: number; message: string }[];
  errorsTruncated: boolean;
  /**
   * Rows skipped because the file itself says the address left or bounced (an export's unsubscribed or
   * cleaned rows), by line with the reason; at most {@link MAX_LISTED_ERRORS} are listed. They are
   * counted in `skippedUnsubscribed` and `skippedSuppressed`.
   */
  skipped: { line: number; reason: string }[];
  skippedTruncated: boolean;
}

export const MAX_LISTED_ERRORS = 1000;
/** Rows per lookup and write; an import keeps a few batches in flight and nothing else in memory. */
const BATCH_ROWS = 50;
const BATCHES_IN_FLIGHT = 4;

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const RowSchema = z.object({
  email: z.preprocess((v) => v ?? '', EmailSchema),
  name: z.preprocess(blankToUndefined, NameSchema.optional()),
  frequency: z.preprocess((v) => (typeof v === 'string' ? blankToUndefined(v.trim().toLowerCase()) : v), FrequencySchema.optional()),
  topics: z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(/[;|,]/)
            .map((t) => t.trim())
            .filter(Boolean)
        : [],
    TopicsSchema,
  ),
});

interface Row {
  line: number;
  hash: string;
  email: string;
  name?: string | undefined;
  frequency?: z.infer<typeof FrequencySchema> | undefined;
  topics: string[];
  /** `unconfirmed`: the file says the address never confirmed, so it stays pending whatever the consent asserted. */
  state?: 'consented' | 'unconfirmed' | undefined;
  paused?: boolean | undefined;
  /** ISO 8601, from the file: kept when the row becomes confirmed. */
  createdAt?: string | undefined;
  confirmedAt?: string | undefined;
}

/** What a row's state in the exporting platform means for the import. */
type RowState = 'consented' | 'unconfirmed' | { skip: 'unsubscribed' | 'suppressed'; reason: string };

const STATUS_WORDS: Record<string, RowState> = {
  // Inkwire
  confirmed: 'consented',
  pending: 'unconfirmed',
  unsubscribed: { skip: 'unsubscribed', reason: 'unsubscribed in the exported list' },
  suppressed: { skip: 'suppressed', reason: 'suppressed (bounced, complained or erased) in the exported list' },
  // Buttondown's subscriber_type, and common words
  regular: 'consented',
  premium: 'consented',
  gifted: 'consented',
  trialed: 'consented',
  churning: 'consented',
  churned: 'consented',
  past_due: 'consented',
  complimentary: 'consented',
  subscribed: 'consented',
  active: 'consented',
  free: 'consented',
  paid: 'consented',
  unactivated: 'unconfirmed',
  unconfirmed: 'unconfirmed',
  removed: { skip: 'unsubscribed', reason: 'removed from the exported list' },
  cleaned: { skip: 'suppressed', reason: 'cleaned (bounced) in the exported list' },
  bounced: { skip: 'suppressed', reason: 'bounced in the exported list' },
  undeliverable: { skip: 'suppressed', reason: 'undeliverable in the exported list' },
  complained: { skip: 'suppressed', reason: 'complained in the exported list' },
  spammy: { skip: 'suppressed', reason: 'marked as spam in the exported list' },
};

const TRUE = new Set(['true', 'yes', '1']);
const FALSE = new Set(['false', 'no', '0']);

/** The row's state from the file's status column and flags; undefined when the file says nothing; an error when it cannot be read. */
function rowState(v: Partial<Record<ImportField, string>>): RowState | undefined | { error: string } {
  const flag = (x: string | undefined) => x?.trim().toLowerCase() ?? '';
  if (flag(v.cleanedAt)) return { skip: 'suppressed', reason: 'cleaned (bounced) in the exported list' };
  if (flag(v.unsubscribedAt)) return { skip: 'unsubscribed', reason: 'unsubscribed in the exported list' };
  if (TRUE.has(flag(v.emailDisabled))) return { skip: 'unsubscribed', reason: 'email disabled (unsubscribed) in the exported list' };
  if (FALSE.has(flag(v.subscribed))) return { skip: 'unsubscribed', reason: 'not subscribed to emails in the exported list' };
  const status = flag(v.status);
  if (status) {
    const known = STATUS_WORDS[status.replace(/[\s-]+/g, '_')];
    if (!known) return { error: `status: unknown status "${status.slice(0, 40)}"` };
    return known;
  }
  if (TRUE.has(flag(v.subscribed))) return 'consented';
  return undefined;
}

/**
 * A date of an export as ISO 8601, or undefined when there is none or it cannot be read (the import's
 * time is used then). A date without a zone (Mailchimp's `2023-05-01 10:20:30`) is UTC; one in the
 * future is not believed.
 */
function exportDate(value: string | undefined, now: Date): string | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?$/i.exec(v);
  if (!m) return undefined;
  const zone = !m[3] || /^utc$/i.test(m[3]) ? 'Z' : m[3];
  const t = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${zone}`);
  if (Number.isNaN(t) || t > now.getTime()) return undefined;
  return new Date(t).toISOString();
}

/**
 * Imports rows in batches: looks each address up (subscriber and suppression), writes new subscribers
 * in bulk, and never touches a confirmed, unsubscribed or suppressed subscriber. Re-running the same file
 * changes nothing (idempotent by address). Memory stays flat: rows stream in, a few batches are in flight.
 */
/** What an import needs of the subscriber feature: no mailer (confirmations go out as a send). */
export type ImportDeps = Pick<SubscriberDeps, 'subscribers' | 'clock' | 'settings' | 'confirmations'>;

export async function importSubscribers(deps: ImportDeps, items: AsyncIterable<ImportItem>, options: ImportOptions): Promise<ImportReport> {
  const confirming = options.consent === 'none' && options.sendConfirmation;
  if (confirming && !deps.confirmations) throw new Error('an import asking for confirmations needs the confirmation requests wired');
  options = { ...options, importId: options.importId ?? newId(deps.clock.now()) };
  const report: ImportReport = {
    status: options.consent === 'confirmed' ? 'confirmed' : 'pending',
    rows: 0,
    created: 0,
    confirmed: 0,
    unchanged: 0,
    skippedSuppressed: 0,
    skippedUnsubscribed: 0,
    duplicates: 0,
    invalid: 0,
    confirmationsRequested: 0,
    errors: [],
    errorsTruncated: false,
    skipped: [],
    skippedTruncated: false,
  };
  const refuse = (line: number, message: string) => {
    report.invalid++;
    if (report.errors.length < MAX_LISTED_ERRORS) report.errors.push({ line, message });
    else report.errorsTruncated = true;
  };
  const skip = (line: number, kind: 'unsubscribed' | 'suppressed', reason: string) => {
    if (kind === 'unsubscribed') report.skippedUnsubscribed++;
    else report.skippedSuppressed++;
    if (report.skipped.length < MAX_LISTED_ERRORS) report.skipped.push({ line, reason });
    else report.skippedTruncated = true;
  };

  const inFlight = new Set<Promise<void>>();
  const inFlightHashes = new Set<string>();
  let failure: unknown;
  const dispatch = async (batch: Row[]) => {
    // Two batches with the same address must not race to create it: wait for the earlier one.
    if (batch.some((r) => inFlightHashes.has(r.hash))) await Promise.all(inFlight);
    while (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure;
    for (const r of batch) inFlightHashes.add(r.hash);
    const p: Promise<void> = processBatch(deps, batch, options, report)
      .catch((e: unknown) => {
        failure ??= e;
      })
      .finally(() => {
        inFlight.delete(p);
        for (const r of batch) inFlightHashes.delete(r.hash);
      });
    inFlight.add(p);
  };

  let batch: Row[] = [];
  let batchHashes = new Set<string>();
  try {
    for await (const item of items) {
      if (failure) break;
      report.rows++;
      if ('error' in item) {
        refuse(item.line, item.error);
        continue;
      }
      const v = item.values;
      const fullName =
        v.name ||
        [v.firstName, v.lastName]
          .map((x) => x?.trim())
          .filter(Boolean)
          .join(' ');
      const parsed = RowSchema.safeParse({ email: v.email, name: fullName, frequency: v.frequency, topics: v.topics });
      if (!parsed.success) {
        refuse(item.line, parsed.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; '));
        continue;
      }
      const state = rowState(v);
      if (typeof state === 'object' && 'error' in state) {
        refuse(item.line, state.error);
        continue;
      }
      if (typeof state === 'object') {
        skip(item.line, state.skip, state.reason);
        continue;
      }
      const now = deps.clock.now();
      const paused = v.paused?.trim().toLowerCase();
      const hash = emailHash(parsed.data.email);
      if (batchHashes.has(hash)) {
        report.duplicates++;
        continue;
      }
      batchHashes.add(hash);
      batch.push({
        line: item.line,
        hash,
        email: parsed.data.email,
        name: parsed.data.name || undefined,
        frequency: parsed.data.frequency,
        topics: parsed.data.topics,
        state,
        paused: paused ? TRUE.has(paused) : undefined,
        createdAt: exportDate(v.createdAt, now),
        confirmedAt: exportDate(v.confirmedAt, now),
      });
      if (batch.length >= BATCH_ROWS) {
        await dispatch(batch);
        batch = [];
        batchHashes = new Set();
      }
    }
  } catch (e) {
    // The source broke off (too large, connection lost): let the batches already sent finish, then report.
    await Promise.all(inFlight);
    throw e;
  }
  if (batch.length > 0 && !failure) await dispatch(batch);
  await Promise.all(inFlight);
  if (failure) throw failure;
  report.errors.sort((a, b) => a.line - b.line);
  report.skipped.sort((a, b) => a.line - b.line);
  if (confirming && report.confirmationsRequested > 0) report.confirmationSendId = (await deps.confirmations!.request(options.importId!)).sendId;
  return report;
}

async function processBatch(deps: ImportDeps, rows: Row[], options: ImportOptions, report: ImportReport): Promise<void> {
  const states = await deps.subscribers.lookup(rows.map((r) => r.hash));
  const now = deps.clock.now();
  const consent = options.consent === 'confirmed';
  const confirming = !consent && options.sendConfirmation;
  const fresh: Subscriber[] = [];
  const toConfirm: { prev: Subscriber; at: string | undefined }[] = [];
  const toRemind: Subscriber[] = [];
  for (const row of rows) {
    const state = states.get(row.hash) ?? {};
    const s = state.subscriber;
    if (s) {
      if (s.status === 'unsubscribed') report.skippedUnsubscribed++;
      else if (s.status === 'suppressed' || state.suppression) report.skippedSuppressed++;
      else if (s.status === 'pending' && consent && row.state !== 'unconfirmed') toConfirm.push({ prev: s, at: row.confirmedAt ?? row.createdAt });
      else {
        report.unchanged++;
        if (s.status === 'pending' && options.sendConfirmation) toRemind.push(s);
      }
      continue;
    }
    if (state.suppression) {
      report.skippedSuppressed++;
      continue;
    }
    // Confirmed only with the consent asserted, and not when the file says the address never confirmed;
    // then the file's own dates (consent kept from the old list) stand.
    const confirmedRow = consent && row.state !== 'unconfirmed';
    const createdAt = (confirmedRow && row.createdAt) || now.toISOString();
    fresh.push({
      ...(confirming ? { importId: options.importId } : {}),
      id: newId(now),
      email: row.email,
      emailHash: row.hash,
      ...(row.name ? { name: row.name.slice(0, SUBSCRIBER_LIMITS.nameChars) } : {}),
      status: confirmedRow ? 'confirmed' : 'pending',
      frequency: row.frequency ?? deps.settings.defaultFrequency,
      topics: row.topics,
      paused: row.paused ?? false,
      createdAt,
      ...(confirmedRow ? { confirmedAt: row.confirmedAt ?? row.createdAt ?? now.toISOString() } : {}),
      updatedAt: now.toISOString(),
      softBounces: 0,
      source: 'import',
      version: 1,
    });
  }
  if (fresh.length > 0) await deps.subscribers.createMany(fresh);
  report.created += fresh.length;

  for (const { prev, at } of toConfirm) {
    try {
      await deps.subscribers.update(
        { ...prev, status: 'confirmed', confirmedAt: at ?? now.toISOString(), updatedAt: now.toISOString(), version: prev.version + 1 },
        prev,
      );
      report.confirmed++;
    } catch (e) {
      // Changed since the lookup (confirmed or unsubscribed on its own): its own choice wins.
      if (!(e instanceof StaleSubscriber)) throw e;
      report.unchanged++;
    }
  }

  if (!confirming) return;
  report.confirmationsRequested += fresh.length;
  // Known pending subscribers join this import's confirmation send.
  for (const prev of toRemind) {
    if (prev.importId === options.importId) {
      report.confirmationsRequested++;
      continue;
    }
    try {
      await deps.subscribers.update({ ...prev, importId: options.importId, updatedAt: now.toISOString(), version: prev.version + 1 }, prev);
      report.confirmationsRequested++;
    } catch (e) {
      // Changed since the lookup (confirmed, unsubscribed): not asked.
      if (!(e instanceof StaleSubscriber)) throw e;
    }
  }
}
