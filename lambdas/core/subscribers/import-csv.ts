import { Transform, type Readable } from 'node:stream';
import { parse, type CsvError, type Options } from 'csv-parse';
import { AppError } from '../errors.ts';
import { IMPORT_COLUMNS, type ImportColumn, type ImportItem } from './import.ts';

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
      if (bytes > maxBytes) done(new AppError('request.tooLarge', `the CSV is larger than ${maxBytes} bytes; rows before the limit were imported (importing again is safe): split the file`));
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

  let columns: (ImportColumn | undefined)[] | undefined;
  for await (const { record, line } of parser as AsyncIterable<{ record: string[]; line: number }>) {
    if (!columns) {
      columns = headerColumns(record);
      // Errors before the header (a broken first line) are reported like any other row.
      while (skipped.length) yield skipped.shift()!;
      continue;
    }
    while (skipped.length) yield skipped.shift()!;
    const values: Partial<Record<ImportColumn, string>> = {};
    record.forEach((v, i) => {
      const col = columns![i];
      if (col) values[col] = v;
    });
    yield { line, values };
  }
  if (!columns) throw new AppError('request.invalid', 'the CSV is empty; the first line must be a header such as email,name,frequency,topics');
  while (skipped.length) yield skipped.shift()!;
}

function headerColumns(record: string[]): ImportColumn[] {
  const names = record.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !(IMPORT_COLUMNS as readonly string[]).includes(n));
  if (unknown.length > 0 || !names.includes('email')) {
    throw new AppError('request.invalid', `the first line must be a header naming the columns (email is required; also name, frequency, topics); got: ${record.join(',').slice(0, 200)}`, {
      issues: [{ path: 'header', message: unknown.length ? `unknown column${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ').slice(0, 200)}` : 'no email column' }],
    });
  }
  const dupes = names.filter((n, i) => names.indexOf(n) !== i);
  if (dupes.length) throw new AppError('request.invalid', `the header names a column twice: ${dupes.join(', ')}`, { issues: [{ path: 'header', message: 'duplicate column' }] });
  return names as ImportColumn[];
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
