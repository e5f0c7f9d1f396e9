import { Transform, type Readable } from 'node:stream';
import { parse, type CsvError, type Options } from 'csv-parse';
import { AppError } from '../errors.ts';
import type { ImportField, ImportItem } from './import.ts';

/**
 * Reading an import's CSV, shared by the streamed import route and the import job handler (which must not
 * bundle the HTTP stack).
 */

/** Longest CSV record; a longer one is refused as a bad row. */
export const MAX_RECORD_BYTES = 8 * 1024;

/**
 * CSV rows from a byte stream, one at a time: csv-parse reads as the import consumes, so the file (a
 * request body or an uploaded object) is never held whole. Records the parser refuses (wrong number of fields, a quote never closed,
 * an oversized record) come out as errors with their line; the header decides the columns.
 */
export async function* csvItems(source: Readable, maxBytes: number): AsyncGenerator<ImportItem> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes)
        done(
          new AppError(
            'request.tooLarge',
            `the CSV is larger than ${maxBytes} bytes; rows before the limit were imported (importing again is safe): split the file`,
          ),
        );
      else done(null, chunk);
    },
  });
  const skipped: ImportItem[] = [];
  // Line numbers are counted from each record's raw text, in parse order: csv-parse's own count is off by
  // one after a quoted field holding CR LF in a file with LF line ends, and the publisher fixes rows by line.
  let consumed = 0;
  const breaks = (s: string) => (s.match(/\r\n|\r|\n/g) ?? []).length;
  const lineOf = (raw: string) => {
    const line = consumed + breaks(/^[\r\n]*/.exec(raw)![0]) + 1;
    consumed += breaks(raw);
    return line;
  };
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
    raw: true,
    on_record: ({ record, raw }: { record: string[]; raw: string }) => ({ record, line: lineOf(raw) }),
    on_skip: (err: CsvError | undefined, raw: string | undefined) => {
      if (err) skipped.push({ line: lineOf(raw ?? ''), error: csvMessage(err) });
    },
  } as unknown as Options);
  source.on('error', (e) => counter.destroy(e));
  counter.on('error', (e) => parser.destroy(e));
  source.pipe(counter).pipe(parser);

  let columns: (ImportField | undefined)[] | undefined;
  let order: number[] = [];
  for await (const { record, line } of parser as AsyncIterable<{ record: string[]; line: number }>) {
    if (!columns) {
      columns = headerColumns(record);
      order = readOrder(record);
      // Errors before the header (a broken first line) are reported like any other row.
      while (skipped.length) yield skipped.shift()!;
      continue;
    }
    while (skipped.length) yield skipped.shift()!;
    const values: Partial<Record<ImportField, string>> = {};
    // Several columns may feed one field (Substack's subscription_date and created_at): the first filled one wins.
    for (const i of order) {
      const col = columns[i];
      const v = record[i];
      if (col && v !== undefined && !values[col]) values[col] = v;
    }
    yield { line, values };
  }
  if (!columns) throw new AppError('request.invalid', 'the CSV is empty; the first line must be a header such as email,name,frequency,topics');
  while (skipped.length) yield skipped.shift()!;
}

/**
 * Column names of the exports an import reads, lower-cased, and the field each feeds: Inkwire's own export
 * and those of Mailchimp, Substack, Ghost and Buttondown. Where two columns feed one field, the earlier
 * name in this table wins when both are filled.
 */
const COLUMN_ALIASES: [string, ImportField | null][] = [
  ['email', 'email'],
  ['email address', 'email'], // Mailchimp
  ['name', 'name'],
  ['first name', 'firstName'], // Mailchimp
  ['last name', 'lastName'],
  ['frequency', 'frequency'],
  ['topics', 'topics'],
  ['status', 'status'], // Inkwire: pending, confirmed, unsubscribed, suppressed
  ['subscriber_type', 'status'], // Buttondown: regular, premium, unactivated, unsubscribed...
  ['confirmedat', 'confirmedAt'], // Inkwire
  ['confirm_time', 'confirmedAt'], // Mailchimp
  ['createdat', 'createdAt'], // Inkwire
  ['optin_time', 'createdAt'], // Mailchimp
  ['subscription_date', 'createdAt'], // Substack
  ['created_at', 'createdAt'], // Ghost, Substack
  ['creation_date', 'createdAt'], // Buttondown
  ['unsub_time', 'unsubscribedAt'], // Mailchimp's unsubscribed export
  ['clean_time', 'cleanedAt'], // Mailchimp's cleaned (bounced) export
  ['subscribed_to_emails', 'subscribed'], // Ghost
  ['email_disabled', 'emailDisabled'], // Substack
  ['paused', 'paused'], // Inkwire
  ['id', null], // Inkwire (and others): ids of the old list mean nothing here
  ['source', null], // Inkwire
];
const ALIAS = new Map(COLUMN_ALIASES);
const PRIORITY = new Map(COLUMN_ALIASES.map(([name], i) => [name, i]));
/** Columns only another platform's export has: with one of them, columns the import does not use are ignored. */
const FOREIGN_MARKS = [
  'email address',
  'subscriber_type',
  'creation_date',
  'subscribed_to_emails',
  'email_disabled',
  'active_subscription',
  'subscription_date',
  'optin_time',
  'confirm_time',
  'created_at',
];

/**
 * The field of each column. An Inkwire file (email, name, frequency, topics, or Inkwire's export) may name
 * no other column, so a misspelt one is refused; another platform's export keeps its extra columns, ignored.
 */
function headerColumns(record: string[]): (ImportField | undefined)[] {
  const names = record.map((h) => h.trim().toLowerCase());
  const foreign = names.some((n) => FOREIGN_MARKS.includes(n));
  const unknown = names.filter((n) => !ALIAS.has(n));
  if ((unknown.length > 0 && !foreign) || !names.some((n) => ALIAS.get(n) === 'email')) {
    throw new AppError(
      'request.invalid',
      `the first line must be a header naming the columns (email is required; also name, frequency, topics; or the header of an Inkwire, Mailchimp, Substack, Ghost or Buttondown export); got: ${record.join(',').slice(0, 200)}`,
      {
        issues: [
          {
            path: 'header',
            message: unknown.length && !foreign ? `unknown column${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ').slice(0, 200)}` : 'no email column',
          },
        ],
      },
    );
  }
  const dupes = names.filter((n, i) => names.indexOf(n) !== i && ALIAS.get(n));
  if (dupes.length)
    throw new AppError('request.invalid', `the header names a column twice: ${dupes.join(', ')}`, {
      issues: [{ path: 'header', message: 'duplicate column' }],
    });
  const emails = names.filter((n) => ALIAS.get(n) === 'email');
  if (emails.length > 1)
    throw new AppError('request.invalid', `the header has two email columns: ${emails.join(', ')}`, {
      issues: [{ path: 'header', message: 'duplicate column' }],
    });
  return names.map((n) => ALIAS.get(n) ?? undefined);
}

/** Column indexes in the order their values are read (see {@link COLUMN_ALIASES}). */
function readOrder(record: string[]): number[] {
  const names = record.map((h) => h.trim().toLowerCase());
  return names.map((_, i) => i).sort((a, b) => (PRIORITY.get(names[a]!) ?? 1e9) - (PRIORITY.get(names[b]!) ?? 1e9));
}

function csvMessage(err: CsvError): string {
  switch (err.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
      return 'wrong number of fields: every row needs as many fields as the header (quote a value that contains a comma)';
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed';
    case 'CSV_MAX_RECORD_SIZE':
      return `the row is longer than ${MAX_RECORD_BYTES} bytes`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'a quote inside a field must be doubled ("")';
    default:
      return `unreadable row: ${err.message.replace(/\s+/g, ' ').slice(0, 200)}`;
  }
}
