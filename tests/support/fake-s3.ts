/**
 * A small stand-in for S3's REST API (path-style, one bucket, objects in memory), for the real S3Client:
 * S3 has no local edition. It answers a missing key as S3 does to a role without s3:ListBucket: 403.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';

export const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

export class FakeBucket {
  objects = new Map<string, { body: Buffer; contentType: string; meta: Record<string, string> }>();
  calls: string[] = [];
  url = '';
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const key = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/[^/]+\//, ''));
      this.calls.push(`${req.method} ${key}`);
      const obj = this.objects.get(key);
      if (req.method === 'PUT') {
        const meta = Object.fromEntries(
          Object.entries(req.headers)
            .filter(([h]) => h.startsWith('x-amz-meta-'))
            .map(([h, v]) => [h, String(v)]),
        );
        this.objects.set(key, { body: Buffer.concat(chunks), contentType: String(req.headers['content-type']), meta });
        res.writeHead(200, { ETag: '"put"' });
        return res.end();
      }
      if (req.method === 'DELETE') {
        this.objects.delete(key);
        res.writeHead(204);
        return res.end();
      }
      if (!obj) {
        res.writeHead(403, { 'content-type': 'application/xml' });
        return res.end(
          req.method === 'HEAD' ? undefined : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
        );
      }
      res.writeHead(200, { 'content-type': obj.contentType, 'content-length': String(obj.body.length), ...obj.meta });
      return res.end(req.method === 'HEAD' ? undefined : obj.body);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** The real S3 client, pointed at the stand-in. */
export const fakeS3Client = (bucket: FakeBucket) =>
  new S3Client({ endpoint: bucket.url, forcePathStyle: true, region: 'us-east-1', credentials, maxAttempts: 1 });
