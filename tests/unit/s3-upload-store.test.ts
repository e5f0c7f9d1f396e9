/**
 * The S3 adapter of job files with the real S3Client: presigned URLs (pure signing, no network), and reads,
 * deletes and multipart writes against a small stand-in for S3's REST API on a local port.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MIN_PART_BYTES, S3UploadStore } from '../../lambdas/adapters/s3/upload-store.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token' };

describe('presigned URLs', () => {
  const store = new S3UploadStore('inkwire-jobs-example', { client: { region: 'eu-west-1', credentials } });

  it('signs a PUT of one key, with its Content-Type, for the time asked, and no checksum of an empty body', async () => {
    const { url, headers } = await store.uploadUrl('imports/01hq0z8k2m4n6p8r0t2v4x6y8z.csv', { contentType: 'text/csv', expiresInSeconds: 3600 });
    expect(headers).toEqual({ 'content-type': 'text/csv' });
    const u = new URL(url);
    expect(u.origin).toBe('https://inkwire-jobs-example.s3.eu-west-1.amazonaws.com');
    expect(u.pathname).toBe('/imports/01hq0z8k2m4n6p8r0t2v4x6y8z.csv');
    const q = u.searchParams;
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Expires')).toBe('3600');
    expect(q.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
    expect(q.get('X-Amz-Security-Token')).toBe('session-token');
    expect(q.get('X-Amz-SignedHeaders')!.split(';').sort()).toEqual(['content-type', 'host']);
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // By default the SDK signs a CRC32 of an empty body into the URL, and S3 then refuses every real upload.
    expect([...q.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
  });

  it('signs a GET that answers as a CSV attachment, for the time asked', async () => {
    const url = new URL(
      await store.downloadUrl('exports/abc.csv', { contentType: 'text/csv; charset=utf-8', filename: 'subscribers-2024-02-11.csv', expiresInSeconds: 900 }),
    );
    expect(url.pathname).toBe('/exports/abc.csv');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('response-content-disposition')).toBe('attachment; filename="subscribers-2024-02-11.csv"');
    expect(url.searchParams.get('response-content-type')).toBe('text/csv; charset=utf-8');
    expect([...url.searchParams.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// A stand-in for the few S3 operations the adapter calls (path-style), recording every request.

interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  bytes: number;
}

class FakeS3 {
  calls: Call[] = [];
  objects = new Map<string, { body: Buffer; contentType?: string }>();
  uploads = new Map<string, { key: string; contentType?: string; parts: Map<number, Buffer> }>();
  aborted: string[] = [];
  /** Part numbers whose upload answers 500. */
  failParts = new Set<number>();
  url = '';
  private server!: Server;
  private n = 0;

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://x');
      const key = decodeURIComponent(u.pathname.replace(/^\/[^/]+\//, ''));
      const q = u.searchParams;
      this.calls.push({ method: req.method!, path: u.pathname, query: q, headers: req.headers, bytes: body.length });
      const xml = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>${text}`);
      };
      if (req.method === 'POST' && q.has('uploads')) {
        const id = `upload-${++this.n}`;
        this.uploads.set(id, { key, contentType: req.headers['content-type'], parts: new Map() });
        return xml(200, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      }
      if (req.method === 'PUT' && q.has('uploadId')) {
        const part = Number(q.get('partNumber'));
        if (this.failParts.has(part)) return xml(500, '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>');
        this.uploads.get(q.get('uploadId')!)!.parts.set(part, body);
        res.writeHead(200, { ETag: `"etag-${part}"` });
        return res.end();
      }
      if (req.method === 'POST' && q.has('uploadId')) {
        const upload = this.uploads.get(q.get('uploadId')!)!;
        const numbers = [...body.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
        this.objects.set(key, { body: Buffer.concat(numbers.map((n) => upload.parts.get(n)!)), contentType: upload.contentType });
        this.uploads.delete(q.get('uploadId')!);
        return xml(200, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>${key}</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>`);
      }
      if (req.method === 'DELETE' && q.has('uploadId')) {
        this.aborted.push(q.get('uploadId')!);
        this.uploads.delete(q.get('uploadId')!);
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'PUT') {
        this.objects.set(key, { body, contentType: req.headers['content-type'] });
        res.writeHead(200, { ETag: '"put"' });
        return res.end();
      }
      if (req.method === 'GET') {
        const obj = this.objects.get(key);
        if (!obj) return xml(404, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${key}</Key></Error>`);
        res.writeHead(200, { 'content-type': obj.contentType ?? 'binary/octet-stream', 'content-length': String(obj.body.length) });
        return res.end(obj.body);
      }
      if (req.method === 'DELETE') {
        this.objects.delete(key);
        res.writeHead(204);
        return res.end();
      }
      xml(400, '<Error><Code>NotImplemented</Code><Message>not in the stand-in</Message></Error>');
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const s3 = new FakeS3();
beforeAll(() => s3.start());
afterAll(() => s3.stop());
beforeEach(() => {
  s3.calls = [];
  s3.failParts.clear();
});

const storeOn = (options: { partBytes?: number } = {}) =>
  new S3UploadStore('jobs', {
    client: { endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials, maxAttempts: 1 },
    log: () => undefined,
    ...options,
  });

/** Which S3 operation a recorded request was. */
const operation = (c: Call) =>
  c.query.has('uploads')
    ? 'CreateMultipartUpload'
    : c.query.has('partNumber')
      ? 'UploadPart'
      : c.query.has('uploadId')
        ? c.method === 'POST'
          ? 'CompleteMultipartUpload'
          : 'AbortMultipartUpload'
        : `${c.method}Object`;

async function* lines(count: number, width: number) {
  for (let i = 0; i < count; i++) yield `${String(i).padStart(width - 2, '0')}\r\n`;
}

describe('against the S3 stand-in', () => {
  it('a presigned PUT URL takes the file with the signed Content-Type', async () => {
    const store = storeOn();
    const { url, headers } = await store.uploadUrl('imports/x1.csv', { contentType: 'text/csv', expiresInSeconds: 60 });
    const res = await fetch(url, { method: 'PUT', body: 'email\na@example.org\n', headers });
    expect(res.status).toBe(200);
    expect(s3.objects.get('imports/x1.csv')).toEqual({ body: Buffer.from('email\na@example.org\n'), contentType: 'text/csv' });
  });

  it('reads a file as a stream with its size, says when there is none, and deletes', async () => {
    const store = storeOn();
    s3.objects.set('imports/r1.csv', { body: Buffer.from('email\nb@example.org\n') });
    const file = await store.open('imports/r1.csv');
    expect(file!.size).toBe(20);
    let text = '';
    for await (const c of file!.body) text += String(c);
    expect(text).toBe('email\nb@example.org\n');
    expect(await store.open('imports/none.csv')).toBeUndefined();
    await store.delete('imports/r1.csv');
    expect(s3.objects.has('imports/r1.csv')).toBe(false);
  });

  it('writes an export in parts of at least 5 MiB (the last may be smaller), holding one at a time', async () => {
    const store = storeOn();
    const { bytes } = await store.write('exports/e1.csv', lines(120_000, 100), { contentType: 'text/csv; charset=utf-8' });
    expect(bytes).toBe(12_000_000);
    const parts = s3.calls.filter((c) => c.method === 'PUT' && c.query.has('partNumber'));
    expect(parts.map((p) => Number(p.query.get('partNumber')))).toEqual([1, 2, 3]);
    for (const p of parts.slice(0, -1)) expect(p.bytes).toBeGreaterThanOrEqual(MIN_PART_BYTES);
    expect(parts.reduce((n, p) => n + p.bytes, 0)).toBe(12_000_000);
    const stored = s3.objects.get('exports/e1.csv')!;
    expect(stored.contentType).toBe('text/csv; charset=utf-8');
    expect(stored.body.length).toBe(12_000_000);
    expect(stored.body.subarray(0, 200).toString()).toBe(`${'0'.repeat(98)}\r\n${'0'.repeat(97)}1\r\n`);
    expect(s3.calls.map(operation)).toEqual(['CreateMultipartUpload', 'UploadPart', 'UploadPart', 'UploadPart', 'CompleteMultipartUpload']);
  });

  it('writes a small export as one part', async () => {
    await storeOn().write('exports/e2.csv', lines(3, 10), { contentType: 'text/csv' });
    expect(s3.objects.get('exports/e2.csv')!.body.toString()).toBe('00000000\r\n00000001\r\n00000002\r\n');
    expect(s3.calls.filter((c) => c.query.has('partNumber'))).toHaveLength(1);
  });

  it('aborts the multipart upload when a part fails, or when the rows stop coming, and leaves no file', async () => {
    s3.failParts.add(2);
    await expect(storeOn({ partBytes: 1000 }).write('exports/e3.csv', lines(50, 100), { contentType: 'text/csv' })).rejects.toThrow();
    expect(s3.aborted).toHaveLength(1);
    expect(s3.objects.has('exports/e3.csv')).toBe(false);

    expect(s3.calls.map(operation)).toEqual(['CreateMultipartUpload', 'UploadPart', 'UploadPart', 'AbortMultipartUpload']);

    s3.calls = [];
    async function* broken() {
      yield 'id,email\r\n';
      throw new Error('the table read failed');
    }
    await expect(storeOn().write('exports/e4.csv', broken(), { contentType: 'text/csv' })).rejects.toThrow('the table read failed');
    expect(s3.aborted).toHaveLength(2);
    expect(s3.objects.has('exports/e4.csv')).toBe(false);
    expect(s3.calls.map(operation)).toEqual(['CreateMultipartUpload', 'AbortMultipartUpload']);
  });
});
