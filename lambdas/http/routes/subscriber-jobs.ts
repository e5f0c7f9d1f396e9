import { createRoute, z } from '@hono/zod-openapi';
import {
  createExportJob,
  createImportJob,
  DOWNLOAD_URL_SECONDS,
  EXPORT_FILE_HOURS,
  getExportJob,
  getImportJob,
  UPLOAD_URL_SECONDS,
  type SubscriberJobDeps,
} from '../../core/subscribers/jobs.ts';
import { errorResponses, newRouter } from '../router.ts';
import { ImportQuerySchema, ImportReportSchema, importOptionsFrom } from './subscribers.ts';

const security = [{ bearerAuth: [] }];
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[0-9a-z]+$/, 'must be a job id, as returned when the job was created')
    .openapi({ param: { name: 'id', in: 'path' }, example: '01hq0z8k2m4n6p8r0t2v4x6y8z' }),
});
const Time = z.string().meta({ description: 'ISO 8601 date-time', example: '2024-02-11T10:00:00.000Z' });

const ImportJobSchema = z
  .object({
    id: z.string(),
    status: z.enum(['awaiting-upload', 'running', 'completed', 'failed', 'expired']).meta({
      description:
        '`awaiting-upload`: PUT the file to the upload URL. `running`: importing (see `rows`). `completed`: see `report`. `failed`: see `reason`. `expired`: the upload URL ran out before a file arrived.',
    }),
    options: z.object({ consent: z.enum(['confirmed', 'none']), sendConfirmation: z.boolean() }),
    createdAt: Time,
    uploadExpiresAt: Time,
    startedAt: Time.optional(),
    finishedAt: Time.optional(),
    rows: z.number().int().meta({ description: 'CSV rows read so far (the header not counted); updated every few seconds while running.' }),
    bytes: z.number().int().optional().meta({ description: 'Size of the uploaded file.' }),
    maxBytes: z.number().int().meta({ description: 'The largest file an import takes.' }),
    report: ImportReportSchema.optional().meta({ description: 'When completed: what was imported, and each refused row.' }),
    reason: z.string().optional().meta({ description: 'Why the job failed or expired, and what to do.' }),
  })
  .openapi('SubscriberImportJob');

const UploadSchema = z
  .object({
    method: z.literal('PUT'),
    url: z.string().meta({ description: 'PUT the CSV file here, as the whole body. No API key: the URL itself is the permission.' }),
    headers: z.record(z.string(), z.string()).meta({ description: 'Headers the PUT must send, exactly.', example: { 'content-type': 'text/csv' } }),
    expiresAt: Time,
  })
  .openapi('UploadUrl');

const CreatedImportJobSchema = ImportJobSchema.extend({ upload: UploadSchema }).openapi('SubscriberImportJobCreated');

const ExportJobSchema = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'completed', 'failed', 'expired']).meta({
      description: `\`running\`: writing the file (see \`rows\`). \`completed\`: download it from \`download.url\`. \`failed\`: see \`reason\`. \`expired\`: the file was deleted (files are kept ${EXPORT_FILE_HOURS} hours).`,
    }),
    createdAt: Time,
    startedAt: Time.optional(),
    finishedAt: Time.optional(),
    rows: z.number().int().meta({ description: 'Subscribers written so far; updated every few seconds while running.' }),
    bytes: z.number().int().optional(),
    download: z
      .object({ url: z.string(), expiresAt: Time })
      .optional()
      .meta({
        description: `When completed: a URL to GET the CSV from, without the API key, for ${DOWNLOAD_URL_SECONDS / 60} minutes (ask again for a fresh one).`,
      }),
    reason: z.string().optional(),
  })
  .openapi('SubscriberExportJob');

/**
 * Import and export jobs (mounted under `/api`, behind the key): the AWS-sized path for files that cannot
 * pass through API Gateway and the API function (6 MB, 15 s). The file goes straight to storage by an
 * upload URL, or comes from it by a download URL; the work runs in the jobs functions.
 */
export function subscriberJobRoutes(deps: SubscriberJobDeps | (() => SubscriberJobDeps | Promise<SubscriberJobDeps>)) {
  const app = newRouter();
  const resolve = async () => (typeof deps === 'function' ? await deps() : deps);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/subscribers/imports',
      tags: ['Subscribers'],
      summary: 'Start an import job (any size: the file goes by an upload URL)',
      description:
        'Creates an import job and answers with an upload URL. PUT the CSV file there, with the headers given (`curl -T subscribers.csv -H "content-type: text/csv" "$URL"`), ' +
        `within ${UPLOAD_URL_SECONDS / 60} minutes; the import starts when the file arrives. Then poll \`GET /api/subscribers/imports/{id}\` until the status is \`completed\` (with the report) or \`failed\` (with the reason). ` +
        'The file, the options and the report are those of `POST /api/subscribers/import`; the file is deleted once read. No request body: the options are query parameters.',
      security,
      request: { query: ImportQuerySchema },
      responses: {
        201: { description: 'The job, awaiting its file, and where to upload it', content: { 'application/json': { schema: CreatedImportJobSchema } } },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const options = importOptionsFrom(c.req.valid('query'));
      const { job, upload } = await createImportJob(await resolve(), options);
      c.header('Location', `/api/subscribers/imports/${job.id}`);
      return c.json({ ...job, upload }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/imports/{id}',
      tags: ['Subscribers'],
      summary: 'Get an import job: status, progress, report',
      security,
      request: { params: IdParam },
      responses: { 200: { description: 'The job', content: { 'application/json': { schema: ImportJobSchema } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(await getImportJob(await resolve(), c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/subscribers/exports',
      tags: ['Subscribers'],
      summary: 'Start an export job (any size: the file comes by a download URL)',
      description:
        'Writes every subscriber as CSV, in the format of `GET /api/subscribers/export`, to a file. Poll `GET /api/subscribers/exports/{id}` until the status is `completed`, then GET `download.url`. ' +
        `The file is kept ${EXPORT_FILE_HOURS} hours. No request body.`,
      security,
      responses: {
        202: { description: 'The job, running', content: { 'application/json': { schema: ExportJobSchema } } },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const job = await createExportJob(await resolve());
      c.header('Location', `/api/subscribers/exports/${job.id}`);
      return c.json(job, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/exports/{id}',
      tags: ['Subscribers'],
      summary: 'Get an export job: status, progress, download URL',
      security,
      request: { params: IdParam },
      responses: { 200: { description: 'The job', content: { 'application/json': { schema: ExportJobSchema } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(await getExportJob(await resolve(), c.req.valid('param').id), 200),
  );

  return app;
}
