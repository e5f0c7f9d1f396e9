/**
 * Import and export jobs through the local runtime (DynamoDB Local, the upload routes, the import handler
 * called with S3-shaped events, the jobs handler on the in-process queue), over real HTTP.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startTestRuntime, TEST_KEY, type TestRuntime } from '../support/runtime.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { DynamoSubscriberJobRepository } from '../../lambdas/adapters/dynamodb/subscriber-job-repository.ts';
import { DynamoSubscriberRepository } from '../../lambdas/adapters/dynamodb/subscriber-repository.ts';
import { FsUploadStore } from '../../lambdas/adapters/local/upload-store.ts';
import { s3ObjectCreatedEvent } from '../../lambdas/adapters/local/upload-routes.ts';
import { createSubscriberImportHandler } from '../../lambdas/handlers/subscriber-import.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import type { ImportReport } from '../../lambdas/core/subscribers/import.ts';
import type { SubscriberDeps } from '../../lambdas/core/subscribers/use-cases.ts';

const MAX_BYTES = 200_000;
let rt: TestRuntime;
let uploadsDir: string;
let doc: DynamoDBDocumentClient;
let jobs: DynamoSubscriberJobRepository;
let repo: DynamoSubscriberRepository;

beforeAll(async () => {
  rt = await startTestRuntime({ MAX_IMPORT_BYTES: String(MAX_BYTES) });
  uploadsDir = join(rt.dataDir, 'uploads');
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: rt.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  jobs = new DynamoSubscriberJobRepository(doc, rt.tableName);
  repo = new DynamoSubscriberRepository(doc, rt.tableName);
});
afterAll(async () => {
  await rt?.cleanup();
});

interface CreatedImport {
  id: string;
  status: string;
  options: { consent: string; sendConfirmation: boolean };
  maxBytes: number;
  upload: { method: string; url: string; headers: Record<string, string>; expiresAt: string };
}

const createImport = async (query = '') => {
  const res = await rt.api(`/api/subscribers/imports${query}`, { method: 'POST' });
  expect(res.status).toBe(201);
  expect(res.headers.get('location')).toMatch(/^\/api\/subscribers\/imports\/[0-9a-z]+$/);
  return (await res.json()) as CreatedImport;
};
const put = (url: string, body: NonNullable<RequestInit['body']>, headers: Record<string, string> = { 'content-type': 'text/csv' }) =>
  fetch(url, { method: 'PUT', body, headers, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
/** The error of an answer, typed for the assertions. */
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; issues?: unknown[] } }).error;
const getImport = async (id: string) => (await rt.api(`/api/subscribers/imports/${id}`)).json();
async function waitForImport(id: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getImport(id);
    if (job.status === 'completed' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`import ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const filesIn = async (dir: string) => (await readdir(join(uploadsDir, dir)).catch(() => [] as string[])).sort();
const csvOf = (prefix: string, n: number) =>
  `email,name,frequency,topics\n${Array.from({ length: n }, (_, i) => `${prefix}-${i}@example.org,Reader ${i},daily,science`).join('\n')}\n`;

describe('import jobs', () => {
  it('create → PUT to the upload URL → the job runs → report, and the uploaded file is deleted', async () => {
    const job = await createImport('?consent=confirmed');
    expect(job).toMatchObject({ status: 'awaiting-upload', options: { consent: 'confirmed', sendConfirmation: false }, maxBytes: MAX_BYTES });
    expect(job.upload).toMatchObject({ method: 'PUT', headers: { 'content-type': 'text/csv' } });
    expect(job.upload.url.startsWith(`${rt.url}/_uploads/imports/${job.id}.csv?`)).toBe(true);
    expect(Date.parse(job.upload.expiresAt)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect((await getImport(job.id)).status).toBe('awaiting-upload');

    const csv = [
      'email,name,frequency,topics',
      ...Array.from({ length: 120 }, (_, i) => `job-${i}@example.org,Reader ${i},weekly,science;politics`),
      'not-an-address,Bad,,',
      'job-x@example.org,X,hourly,',
      'job-y@example.org,Y,weekly,a,extra',
    ].join('\n');
    const res = await put(job.upload.url, csv);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);

    const done = await waitForImport(job.id);
    expect(done).toMatchObject({ status: 'completed', rows: 123, bytes: Buffer.byteLength(csv) });
    expect(done.startedAt).toBeTruthy();
    expect(done.finishedAt).toBeTruthy();
    const report = done.report as ImportReport;
    expect(report).toMatchObject({ status: 'confirmed', rows: 123, created: 120, invalid: 3, errorsTruncated: false });
    expect(report.errors.map((e) => e.line)).toEqual([122, 123, 124]);
    expect(report.errors[0]!.message).toMatch(/email/);
    expect(report.errors[1]!.message).toMatch(/frequency/);
    expect(report.errors[2]!.message).toMatch(/wrong number of fields/);
    expect(await repo.findByEmailHash(emailHash('job-7@example.org'))).toMatchObject({
      status: 'confirmed',
      frequency: 'weekly',
      topics: ['science', 'politics'],
      source: 'import',
    });
    expect(await filesIn('imports')).toEqual([]);
  });

  it('a repeated upload notification for a finished job does nothing, and its file is deleted', async () => {
    const job = await createImport();
    const csv = csvOf('twice', 30);
    expect((await put(job.upload.url, csv)).status).toBe(200);
    const first = await waitForImport(job.id);
    expect(first.report).toMatchObject({ created: 30 });

    // The URL works until it expires, as an S3 presigned URL does: a second PUT makes a second notification.
    expect((await put(job.upload.url, csv)).status).toBe(200);
    await rt.settled();
    const second = await getImport(job.id);
    expect(second).toEqual(first);
    expect(await filesIn('imports')).toEqual([]);
  });

  it('two notifications for one upload at once: exactly one run imports it', async () => {
    const job = await createImport('?consent=confirmed');
    const csv = csvOf('dup', 200);
    // The file as the upload route stores it, then the import handler called twice, as S3 may (at least once).
    const store = new FsUploadStore(uploadsDir, { baseUrl: rt.url, secret: 'unused-here' });
    const stored = await store.receive(`imports/${job.id}.csv`, (await import('node:stream')).Readable.from([csv]), MAX_BYTES);
    const handler = createSubscriberImportHandler({
      jobs,
      uploads: store,
      clock: { now: () => new Date() },
      maxImportBytes: MAX_BYTES,
      subscribers: {
        subscribers: repo,
        clock: { now: () => new Date() },
        settings: { defaultFrequency: 'weekly', softBounceThreshold: 3 },
      } as unknown as SubscriberDeps,
      log: () => undefined,
    });
    const event = s3ObjectCreatedEvent(`imports/${job.id}.csv`, stored.size, stored.etag);
    await Promise.all([handler(event), handler(event)]);
    const done = await getImport(job.id);
    expect(done.report).toMatchObject({ rows: 200, created: 200, unchanged: 0 });
    const emails: string[] = [];
    for await (const s of repo.all()) if (s.email.startsWith('dup-')) emails.push(s.email);
    expect(emails).toHaveLength(200);
    expect(await filesIn('imports')).toEqual([]);
  });

  it('refuses a forged or tampered upload URL with 403, and writes nothing', async () => {
    const job = await createImport();
    const url = new URL(job.upload.url);
    const forged = new URL(url);
    forged.searchParams.set('signature', `${url.searchParams.get('signature')!.slice(0, -2)}AA`);
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 86_400));
    const other = new URL(url.toString().replace(`/imports/${job.id}.csv`, '/imports/00000000000000000000000000.csv'));
    const unsigned = new URL(`${url.origin}${url.pathname}`);
    for (const [u, message] of [
      [forged, /signature does not match/],
      [later, /signature does not match/],
      [other, /signature does not match/],
      [unsigned, /not signed/],
    ] as const) {
      const res = await put(u.toString(), csvOf('forged', 3));
      expect(res.status).toBe(403);
      const error = await errorOf(res);
      expect(error.code).toBe('upload.forbidden');
      expect(error.message).toMatch(message);
    }
    await rt.settled();
    expect(await filesIn('imports')).toEqual([]);
    expect((await getImport(job.id)).status).toBe('awaiting-upload');
    expect(await repo.findByEmailHash(emailHash('forged-0@example.org'))).toBeUndefined();
  });

  it('refuses an expired upload URL with 403 saying so, and writes nothing', async () => {
    const job = await createImport();
    // A URL signed with the runtime's own key, two hours ago: it expired an hour ago.
    const secret = (await readFile(join(rt.dataDir, 'token-secret'), 'utf8')).trim();
    const past = new FsUploadStore(uploadsDir, { baseUrl: rt.url, secret, now: () => new Date(Date.now() - 2 * 3_600_000) });
    const { url } = await past.uploadUrl(`imports/${job.id}.csv`, { contentType: 'text/csv', expiresInSeconds: 3600 });
    const res = await put(url, csvOf('expired', 3));
    expect(res.status).toBe(403);
    expect((await errorOf(res)).message).toMatch(/expired at .*ask the API for a new one/);
    await rt.settled();
    expect(await filesIn('imports')).toEqual([]);
    expect((await getImport(job.id)).status).toBe('awaiting-upload');
  });

  it('refuses an upload over the size limit (413), and one without its length (411, as S3 does), and keeps nothing', async () => {
    const job = await createImport();
    const big = csvOf('big', 6000);
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX_BYTES);
    const declared = await put(job.upload.url, big);
    expect(declared.status).toBe(413);
    expect((await errorOf(declared)).message).toMatch(/at most 200000 bytes: split the file/);

    const encoder = new TextEncoder();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= big.length) return controller.close();
        controller.enqueue(encoder.encode(big.slice(sent, sent + 16_384)));
        sent += 16_384;
      },
    });
    const streamed = await put(job.upload.url, stream);
    expect(streamed.status).toBe(411);
    expect((await errorOf(streamed)).message).toMatch(/Content-Length/);
    await rt.settled();
    expect(await filesIn('imports')).toEqual([]);
    expect((await getImport(job.id)).status).toBe('awaiting-upload');
    expect(await repo.findByEmailHash(emailHash('big-0@example.org'))).toBeUndefined();
  });

  it('fails a job whose file is not a usable CSV, with the reason', async () => {
    const job = await createImport();
    expect((await put(job.upload.url, 'name,phone\nAnn,123\n')).status).toBe(200);
    const done = await waitForImport(job.id);
    expect(done.status).toBe('failed');
    expect(done.reason).toMatch(/header/);
    expect(done.report).toBeUndefined();
    expect(await filesIn('imports')).toEqual([]);
  });

  it('shows an import whose upload URL ran out unused as expired', async () => {
    const now = Date.now();
    await jobs.create({
      kind: 'import',
      id: 'expiredjob0000000000000000',
      status: 'awaiting-upload',
      options: { consent: 'none', sendConfirmation: false },
      createdAt: new Date(now - 2 * 3_600_000).toISOString(),
      updatedAt: new Date(now - 2 * 3_600_000).toISOString(),
      uploadExpiresAt: new Date(now - 3_600_000).toISOString(),
      rows: 0,
    });
    const job = await getImport('expiredjob0000000000000000');
    expect(job.status).toBe('expired');
    expect(job.reason).toMatch(/create a new import job/);
  });

  it('takes a POST without any body, as curl -X POST sends it (no Content-Length)', async () => {
    const { connect } = await import('node:net');
    const { port } = new URL(rt.url);
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST /api/subscribers/imports HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TEST_KEY}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (d) => (text += String(d)));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(head).toMatch(/^HTTP\/1\.1 201 /);
    expect(head).toContain('"status":"awaiting-upload"');
  });

  it('validates the options like the streamed import', async () => {
    const res = await rt.api('/api/subscribers/imports?consent=confirmed&sendConfirmation=true', { method: 'POST' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.issues).toEqual([{ path: 'sendConfirmation', message: 'not allowed with consent=confirmed' }]);
    expect((await rt.api('/api/subscribers/imports?consent=maybe', { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${rt.url}/api/subscribers/imports`, { method: 'POST' })).status).toBe(401);
  });
});

describe('API document', () => {
  it('describes the job routes, and points large files of the streamed routes to them', async () => {
    const doc = (await (await rt.get('/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, { description?: string }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/subscribers/imports', '/api/subscribers/imports/{id}', '/api/subscribers/exports', '/api/subscribers/exports/{id}']),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['SubscriberImportJob', 'SubscriberImportJobCreated', 'SubscriberExportJob', 'UploadUrl', 'SubscriberImportReport']),
    );
    expect(doc.paths['/api/subscribers/import']!.post!.description).toMatch(/over about 5 MB must use an import job, `POST \/api\/subscribers\/imports`/);
    expect(doc.paths['/api/subscribers/export']!.get!.description).toMatch(/6 MB.*`POST \/api\/subscribers\/exports`/);
  });
});

describe('export jobs', () => {
  it('writes the CSV of the streamed export to a file, and serves it by a signed download URL', async () => {
    const seed = await createImport();
    expect((await put(seed.upload.url, 'email,name\nexp-a@example.org,"=SUM(A1)"\nexp-b@example.org,"Bee, Esq."\n')).status).toBe(200);
    await waitForImport(seed.id);

    const res = await rt.api('/api/subscribers/exports', { method: 'POST' });
    expect(res.status).toBe(202);
    const created = await res.json();
    expect(created).toMatchObject({ status: 'running', rows: 0 });
    expect(res.headers.get('location')).toBe(`/api/subscribers/exports/${created.id}`);

    let job: { status: string; rows: number; bytes: number; download: { url: string; expiresAt: string } };
    for (const deadline = Date.now() + 20_000; ; ) {
      job = await (await rt.api(`/api/subscribers/exports/${created.id}`)).json();
      if (job.status !== 'running' || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job.status).toBe('completed');
    expect(job.download.url.startsWith(`${rt.url}/_uploads/exports/${created.id}.csv?`)).toBe(true);
    expect(Date.parse(job.download.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);

    const streamed = await (await rt.api('/api/subscribers/export')).text();
    const download = await fetch(job.download.url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="subscribers-\d{4}-\d{2}-\d{2}\.csv"$/);
    const text = await download.text();
    expect(text).toBe(streamed);
    expect(text).toContain("'=SUM(A1)");
    expect(text.split('\r\n').filter(Boolean)).toHaveLength(job.rows + 1);
    expect(job.bytes).toBe(Buffer.byteLength(text));

    // The download URL is for GET, for this file, as signed.
    const tampered = new URL(job.download.url);
    tampered.searchParams.set('filename', 'other.csv');
    expect((await fetch(tampered)).status).toBe(403);
    expect((await fetch(job.download.url, { method: 'PUT', body: 'x', headers: { 'content-type': 'text/csv' } })).status).not.toBe(200);
  });

  it('answers 404 for unknown job ids, and 400 for ids that are not ids', async () => {
    const unknown = await rt.api('/api/subscribers/imports/0000000000000000000000000z');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('job.notFound');
    expect((await rt.api('/api/subscribers/exports/0000000000000000000000000z')).status).toBe(404);
    // An import's id is no export, and the other way round.
    const job = await createImport();
    expect((await rt.api(`/api/subscribers/exports/${job.id}`)).status).toBe(404);
    expect((await rt.api('/api/subscribers/imports/NOT-AN-ID')).status).toBe(400);
  });
});
