import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ReadableDocumentStore, StoredDocumentInput } from '../../core/feeds/ports.ts';

/**
 * Generated documents in the S3 bucket that CloudFront serves. A HEAD first: identical bytes are not
 * rewritten (a HEAD costs a tenth of a PUT, and the object's ETag and Last-Modified stay put).
 */
export class S3DocumentStore implements ReadableDocumentStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly cacheControl = 'public, max-age=60',
  ) {}

  private key(path: string): string {
    return path.replace(/^\/+/, '');
  }

  async put(doc: StoredDocumentInput): Promise<boolean> {
    const body = Buffer.from(doc.body, 'utf8');
    const sha256 = createHash('sha256').update(body).digest('hex');
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(doc.path) }));
      if (head.Metadata?.sha256 === sha256 && head.ContentType === doc.contentType) return false;
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404 && status !== 403) throw e;
    }
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(doc.path),
        Body: body,
        ContentType: doc.contentType,
        CacheControl: this.cacheControl,
        Metadata: { sha256, 'content-updated': doc.lastModified },
      }),
    );
    return true;
  }

  async read(path: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
      return await out.Body?.transformToString('utf8');
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // Without s3:ListBucket a missing key answers 403.
      if (status === 404 || status === 403) return undefined;
      throw e;
    }
  }

  async delete(path: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(path) }));
  }
}
