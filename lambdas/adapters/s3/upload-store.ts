import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { UploadStore } from '../../core/subscribers/jobs-ports.ts';

/** S3's smallest part (every part but the last): an export holds one part in memory at a time. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

/**
 * The private jobs bucket (never served by CloudFront): presigned PUT URLs for imports, presigned GET URLs
 * for exports, streamed reads, and exports written by multipart upload, part by part.
 *
 * The client is made here, with checksums only where S3 requires them: by default the SDK signs a
 * CRC32 of an empty body into a presigned PUT (`x-amz-checksum-crc32=AAAAAA==`), and S3 then refuses
 * every real upload to that URL.
 */
export class S3UploadStore implements UploadStore {
  readonly client: S3Client;
  private readonly partBytes: number;
  private readonly log: (msg: string, detail?: unknown) => void;

  constructor(
    private readonly bucket: string,
    options: { client?: S3ClientConfig; partBytes?: number; log?: (msg: string, detail?: unknown) => void } = {},
  ) {
    this.client = new S3Client({ requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...options.client });
    this.partBytes = Math.max(options.partBytes ?? MIN_PART_BYTES, 1);
    this.log = options.log ?? ((m, d) => console.error(m, d ?? ''));
  }

  async uploadUrl(key: string, options: { contentType: string; expiresInSeconds: number }): Promise<{ url: string; headers: Record<string, string> }> {
    const url = await getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: options.contentType }), {
      expiresIn: options.expiresInSeconds,
      // The Content-Type is signed: S3 refuses a PUT that sends another one.
      signableHeaders: new Set(['content-type']),
    });
    return { url, headers: { 'content-type': options.contentType } };
  }

  async downloadUrl(key: string, options: { contentType: string; filename: string; expiresInSeconds: number }): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentType: options.contentType,
        ResponseContentDisposition: `attachment; filename="${options.filename.replace(/[^\w.-]/g, '_')}"`,
      }),
      { expiresIn: options.expiresInSeconds },
    );
  }

  async open(key: string): Promise<{ body: Readable; size: number } | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) return undefined;
      return { body: out.Body as Readable, size: out.ContentLength ?? 0 };
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return undefined;
      throw e;
    }
  }

  /** Multipart upload, one part in memory at a time; aborted (no parts left to pay for) when anything fails. */
  async write(key: string, chunks: AsyncIterable<string | Uint8Array>, options: { contentType: string }): Promise<{ bytes: number }> {
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: options.contentType }));
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error(`S3 started no multipart upload for ${key}`);
    const parts: CompletedPart[] = [];
    let buffered: Buffer[] = [];
    let size = 0;
    let bytes = 0;
    const flush = async () => {
      const body = Buffer.concat(buffered, size);
      buffered = [];
      size = 0;
      const partNumber = parts.length + 1;
      const out = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }));
      parts.push({ PartNumber: partNumber, ETag: out.ETag });
    };
    try {
      for await (const chunk of chunks) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        buffered.push(b);
        size += b.length;
        bytes += b.length;
        if (size >= this.partBytes) await flush();
      }
      if (size > 0 || parts.length === 0) await flush();
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
        .catch((abortError: unknown) =>
          this.log(`could not abort the multipart upload of ${key} (the bucket's lifecycle removes it within a day)`, abortError),
        );
      throw e;
    }
    return { bytes };
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}
