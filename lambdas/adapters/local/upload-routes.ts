import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { S3Event } from 'aws-lambda';
import { Hono } from 'hono';
import { AppError } from '../../core/errors.ts';
import { type FsUploadStore, UploadTooLarge } from './upload-store.ts';

/** The bucket name local S3-shaped events carry. */
export const LOCAL_JOBS_BUCKET = 'inkwire-local-jobs';

/**
 * An S3 `ObjectCreated:Put` notification for one object, shaped as S3 sends it to Lambda (the key
 * URL-encoded, spaces as `+`), so the local runtime calls the import handler exactly as AWS does.
 */
export function s3ObjectCreatedEvent(key: string, size: number, etag: string, bucket = LOCAL_JOBS_BUCKET, at = new Date()): S3Event {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'local',
        eventTime: at.toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'local' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'local', 'x-amz-id-2': 'local' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'subscriber-imports',
          bucket: { name: bucket, ownerIdentity: { principalId: 'local' }, arn: `arn:aws:s3:::${bucket}` },
          object: {
            key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'),
            size,
            eTag: etag,
            sequencer: at.getTime().toString(16).toUpperCase(),
          },
        },
      },
    ],
  };
}

export interface UploadRoutesOptions {
  /** Largest file an upload may be; a larger one is refused (413) and nothing is kept. */
  maxBytes: number;
  /** Called once a file is stored, with the notification S3 would send. */
  onUploaded: (event: S3Event) => void;
}

/**
 * The local server's side of upload and download URLs (mounted at `/_uploads`; in AWS, S3 answers them):
 * `PUT /_uploads/imports/<id>.csv` stores an import's CSV (with its Content-Length, as S3 requires),
 * streamed to disk, then notifies;
 * `GET /_uploads/exports/<id>.csv` serves a finished export as an attachment. Each needs the URL's
 * signature and an unexpired `expires`: anything else is a 403 that says what is wrong.
 */
export function uploadRoutes(store: FsUploadStore, options: UploadRoutesOptions) {
  const app = new Hono();
  const signed = (method: 'PUT' | 'GET', key: string, query: Record<string, string>) => {
    const check = store.check(method, key, query);
    if (!check.ok) throw new AppError('upload.forbidden', `${method === 'PUT' ? 'upload' : 'download'} refused: ${check.reason}`);
  };

  app.put('/imports/:file', async (c) => {
    const key = `imports/${c.req.param('file')}`;
    signed('PUT', key, c.req.query());
    if (!/^text\/csv\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      throw new AppError('request.unsupportedMediaType', 'send the file with the header Content-Type: text/csv, as the upload URL asks');
    }
    // As S3 does: a presigned PUT needs its Content-Length (no chunked upload), so a client that works
    // here works against S3.
    const declared = c.req.header('content-length');
    if (declared === undefined || !/^\d+$/.test(declared)) {
      throw new AppError('upload.lengthRequired', 'send the file with a Content-Length header: an upload URL takes no chunked body');
    }
    const length = Number(declared);
    if (length > options.maxBytes)
      throw new AppError('request.tooLarge', `the file is ${length} bytes; an import may be at most ${options.maxBytes} bytes: split the file`);
    const body = c.req.raw.body;
    if (!body) throw new AppError('request.invalid', 'the upload is empty; PUT the CSV file as the request body');
    let stored: { size: number; etag: string };
    try {
      stored = await store.receive(key, Readable.fromWeb(body as NodeReadableStream<Uint8Array>), options.maxBytes);
    } catch (e) {
      if (e instanceof UploadTooLarge)
        throw new AppError('request.tooLarge', `the file is larger than ${options.maxBytes} bytes, the most an import may be: split the file`);
      throw e;
    }
    options.onUploaded(s3ObjectCreatedEvent(key, stored.size, stored.etag));
    return c.body(null, 200, { ETag: `"${stored.etag}"` });
  });

  app.get('/exports/:file', async (c) => {
    const key = `exports/${c.req.param('file')}`;
    const query = c.req.query();
    signed('GET', key, query);
    const file = await store.open(key);
    if (!file) throw new AppError('job.notFound', 'the export file is gone (exports are kept a day); start a new export');
    const filename = (query.filename ?? 'subscribers.csv').replace(/[^\w.-]/g, '_');
    return new Response(Readable.toWeb(file.body) as ReadableStream<Uint8Array>, {
      status: 200,
      headers: {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${filename}"`,
        'Content-Length': String(file.size),
        'Cache-Control': 'no-store',
      },
    });
  });

  return app;
}
