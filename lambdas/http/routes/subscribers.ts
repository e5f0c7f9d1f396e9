import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../../core/errors.ts';
import { SubscriberOutputSchema, SubscriberStatusSchema, toSubscriberOutput } from '../../core/subscribers/schema.ts';
import { countSubscribers, eraseSubscriber, getSubscriber, listSubscribers, type SubscriberDeps } from '../../core/subscribers/use-cases.ts';
import { importSubscribers, MAX_LISTED_ERRORS, type ImportOptions } from '../../core/subscribers/import.ts';
import { csvItems } from '../../core/subscribers/import-csv.ts';
import { exportSubscribersCsv } from '../../core/subscribers/export.ts';
import { errorResponses, newRouter, pageLimit, named } from '../router.ts';
import { subscriberPageRoutes, type SubscriberPageDeps } from './subscriber-pages.ts';

const Subscriber = named(SubscriberOutputSchema, 'Subscriber');
export const SubscriberIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9]+$/, 'must be a subscriber id')
    .openapi({ param: { name: 'id', in: 'path' }, example: '01hq0z8k2m4n6p8r0t2v4x6y8z' }),
});
const security = [{ bearerAuth: [] }];

const CountsSchema = z
  .object({
    total: z.number().int(),
    byStatus: z.object({ pending: z.number().int(), confirmed: z.number().int(), unsubscribed: z.number().int(), suppressed: z.number().int() }),
    byFrequency: z
      .object({ instant: z.number().int(), daily: z.number().int(), weekly: z.number().int() })
      .meta({ description: 'Confirmed subscribers by frequency, paused ones included.' }),
    paused: z.number().int().meta({ description: 'Confirmed subscribers who paused their mail.' }),
  })
  .openapi('SubscriberCounts');

export const ImportReportSchema = z
  .object({
    status: z.enum(['confirmed', 'pending']).meta({ description: 'What new rows became.' }),
    rows: z.number().int(),
    created: z.number().int(),
    confirmed: z.number().int().meta({ description: 'Pending subscribers confirmed by the asserted consent.' }),
    unchanged: z.number().int(),
    skippedSuppressed: z.number().int(),
    skippedUnsubscribed: z.number().int(),
    duplicates: z.number().int(),
    invalid: z.number().int(),
    confirmationsRequested: z.number().int().meta({ description: 'With sendConfirmation: pending subscribers of this import asked to confirm.' }),
    confirmationSendId: z
      .string()
      .optional()
      .meta({ description: 'The confirmation send that mails them, paced like any send: follow it at `GET /api/sends/{id}`.' }),
    errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
    errorsTruncated: z.boolean().meta({ description: `True when more than ${MAX_LISTED_ERRORS} rows were refused; \`invalid\` counts them all.` }),
    skipped: z.array(z.object({ line: z.number().int(), reason: z.string() })).meta({
      description:
        'Rows skipped because the file says the address unsubscribed or bounced (an export\u2019s unsubscribed or cleaned rows), by line; counted in `skippedUnsubscribed` and `skippedSuppressed`.',
    }),
    skippedTruncated: z.boolean().meta({ description: `True when more than ${MAX_LISTED_ERRORS} rows were skipped so.` }),
  })
  .openapi('SubscriberImportReport');

/** The query of both imports (streamed, and jobs): what new rows become, and whether pending rows get mail. */
export const ImportQuerySchema = z.object({
  consent: z.enum(['confirmed', 'none']).default('none').meta({ description: '`confirmed`: you assert prior consent for every row.' }),
  sendConfirmation: z.enum(['true', 'false']).default('false').meta({ description: 'Send pending rows a confirmation email.' }),
});

/** Import options from the query; confirmations with asserted consent are a contradiction (400). */
export function importOptionsFrom(q: z.infer<typeof ImportQuerySchema>): ImportOptions {
  if (q.consent === 'confirmed' && q.sendConfirmation === 'true') {
    throw new AppError('request.invalid', 'sendConfirmation=true only applies to pending rows; with consent=confirmed nothing needs confirming', {
      issues: [{ path: 'sendConfirmation', message: 'not allowed with consent=confirmed' }],
    });
  }
  return { consent: q.consent, sendConfirmation: q.sendConfirmation === 'true' };
}

export interface SubscriberApiOptions {
  /** Largest CSV an import accepts. Default 100 MB (about 1.5 million rows). */
  maxImportBytes?: number;
}

export const DEFAULT_MAX_IMPORT_BYTES = 100 * 1024 * 1024;

/**
 * The publisher's subscriber API, mounted under `/api` (Bearer key): list, get, erase, counts, CSV import
 * (streamed) and export (streamed).
 */
export function subscriberRoutes(deps: SubscriberDeps, options: SubscriberApiOptions = {}) {
  const app = newRouter();
  const maxImportBytes = options.maxImportBytes ?? DEFAULT_MAX_IMPORT_BYTES;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/counts',
      tags: ['Subscribers'],
      summary: 'Count subscribers by status and frequency',
      description: 'Exact counts, read from the status index on each call (about 1 read unit per 8 KB of subscribers: ~5,000 for 100,000).',
      security,
      responses: { 200: { description: 'Counts', content: { 'application/json': { schema: CountsSchema } } }, ...errorResponses(401) },
    }),
    async (c) => c.json(await countSubscribers(deps), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/export',
      tags: ['Subscribers'],
      summary: 'Export every subscriber as CSV (streamed)',
      description:
        'Columns: id,email,name,status,frequency,topics,paused,createdAt,confirmedAt,source. Topics are separated by `;`. Cells that a spreadsheet would run as a formula start with an apostrophe. ' +
        'In AWS the answer passes through API Gateway and the API function, which cut it off at 6 MB (roughly 40,000 subscribers) or 15 seconds: for a larger list use an export job, `POST /api/subscribers/exports`, which writes the file for download.',
      security,
      responses: { 200: { description: 'CSV', content: { 'text/csv': { schema: z.string() } } }, ...errorResponses(401) },
    }),
    async () => {
      const lines = exportSubscribersCsv(deps)[Symbol.asyncIterator]();
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await lines.next();
          if (done) controller.close();
          else controller.enqueue(encoder.encode(value));
        },
        async cancel() {
          await lines.return?.();
        },
      });
      const stamp = deps.clock.now().toISOString().slice(0, 10);
      return new Response(body, {
        status: 200,
        headers: {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `attachment; filename="subscribers-${stamp}.csv"`,
          'Cache-Control': 'no-store',
        },
      }) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/subscribers/import',
      tags: ['Subscribers'],
      summary: 'Import subscribers from CSV (streamed)',
      description:
        'Body: CSV with a header line naming the columns `email` (required), `name`, `frequency` (instant, daily, weekly) and `topics` (tag names separated by `;`); ' +
        'or the file of an Inkwire export (`GET /api/subscribers/export`), or a Mailchimp, Substack, Ghost or Buttondown subscriber export, whose address, name, dates and status columns are read and other columns ignored. ' +
        'Rows such a file marks unsubscribed or bounced are skipped (listed in `skipped`); rows it marks unconfirmed (Inkwire `pending`, Buttondown `unactivated`) stay pending. ' +
        'A row that becomes confirmed keeps the file\u2019s consent date as `confirmedAt` and its creation date as `createdAt`. ' +
        'With `consent=confirmed` you assert that every address consented before: new rows become confirmed (and pending subscribers are confirmed). Otherwise new rows are pending and get no email unless `sendConfirmation=true`. ' +
        'Suppressed addresses (bounced, complained, erased) and unsubscribed subscribers are skipped; a confirmed subscriber is never changed. Importing the same file again changes nothing. ' +
        `Each bad row is reported by line; the rest are imported. At most ${DEFAULT_MAX_IMPORT_BYTES / 1024 / 1024} MB. ` +
        'In AWS this request passes through API Gateway and the API function (6 MB, 15 seconds): a file over about 5 MB must use an import job, `POST /api/subscribers/imports`, which takes the file by an upload URL.',
      security,
      request: {
        query: ImportQuerySchema,
        body: {
          content: {
            'text/csv': { schema: z.string().meta({ example: 'email,name,frequency,topics\nada@example.com,Ada Lovelace,weekly,science;history\n' }) },
          },
          required: true,
        },
      },
      responses: {
        200: { description: 'What was imported, and each refused row', content: { 'application/json': { schema: ImportReportSchema } } },
        ...errorResponses(400, 401, 413, 415),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      if (!/^text\/csv\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
        throw new AppError('request.unsupportedMediaType', 'send the CSV with Content-Type: text/csv');
      }
      const importOptions = importOptionsFrom(q);
      const length = Number(c.req.header('content-length') ?? NaN);
      if (length > maxImportBytes)
        throw new AppError('request.tooLarge', `the CSV is ${length} bytes; an import may be at most ${maxImportBytes} bytes: split the file`);
      const raw = c.req.raw.body;
      if (!raw) throw new AppError('request.invalid', 'the CSV is empty; the first line must be a header such as email,name,frequency,topics');
      const rows = csvItems(Readable.fromWeb(raw as import('node:stream/web').ReadableStream<Uint8Array>), maxImportBytes);
      const report = await importSubscribers(deps, rows, importOptions);
      return c.json(report, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers',
      tags: ['Subscribers'],
      summary: 'List subscribers, newest first, or find one by address',
      description:
        'With `email`, the page holds the subscriber with exactly that address (case does not matter), or nothing, and `next` is null: ' +
        'use it to find one person (to erase them, say) without exporting the list. `status` still filters; `cursor` and `limit` do not apply.',
      security,
      request: {
        query: z.object({
          email: z
            .string()
            .trim()
            .min(3)
            .max(320)
            .optional()
            .meta({ description: 'Find the subscriber with this exact address (case-insensitive).', example: 'ada@example.com' }),
          status: SubscriberStatusSchema.optional(),
          limit: pageLimit(50),
          cursor: z.string().max(2000).optional().meta({ description: 'The `next` value of the previous page.' }),
        }),
      },
      responses: {
        200: {
          description: 'A page of subscribers',
          content: { 'application/json': { schema: z.object({ items: z.array(Subscriber), next: z.string().nullable() }) } },
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const page = await listSubscribers(deps, c.req.valid('query'));
      return c.json({ items: page.items.map(toSubscriberOutput), next: page.next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/{id}',
      tags: ['Subscribers'],
      summary: 'Get a subscriber',
      security,
      request: { params: SubscriberIdParam },
      responses: { 200: { description: 'The subscriber', content: { 'application/json': { schema: Subscriber } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(toSubscriberOutput(await getSubscriber(deps, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/subscribers/{id}',
      tags: ['Subscribers'],
      summary: 'Erase a subscriber',
      description:
        'Deletes the subscriber\u2019s personal data. Only a hash of the address is kept, on the suppression list: it is never mailed again unless it subscribes and confirms anew.',
      security,
      request: { params: SubscriberIdParam },
      responses: { 204: { description: 'Erased' }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      await eraseSubscriber(deps, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  return app;
}

export interface SubscriberHttpDeps extends SubscriberPageDeps, SubscriberApiOptions {}

/**
 * Every subscriber router with its mount path, for `createApp({ mounts })`: the publisher API under
 * `/api` (behind the key) and the reader pages at `/`. (SES's events come through their own queue and
 * function, not over HTTP.)
 *
 * @example
 * ```ts
 * createApp({ ...deps, mounts: [...subscriberMounts({ subscribers, rateLimiter, pages, clientAddress })] });
 * ```
 */
export function subscriberMounts(deps: SubscriberHttpDeps): { path: string; app: ReturnType<typeof newRouter> }[] {
  return [
    { path: '/api', app: subscriberRoutes(deps.subscribers, { maxImportBytes: deps.maxImportBytes }) },
    { path: '/', app: subscriberPageRoutes(deps) },
  ];
}
