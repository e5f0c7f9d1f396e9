import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { UploadStore } from '../../core/subscribers/jobs-ports.ts';

/** The only keys a job file may have: one folder per direction, a job id, `.csv`. */
const KEY = /^(imports|exports)\/[0-9a-z]{1,64}\.csv$/;

/** Why a signed URL was refused, said so the caller knows what to do. */
export type UrlCheck = { ok: true } | { ok: false; reason: string };

export class UploadTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the file is larger than ${maxBytes} bytes`);
    this.name = 'UploadTooLarge';
  }
}

/**
 * The local stand-in for the jobs bucket: files under `root` (`imports/<id>.csv`, `exports/<id>.csv`),
 * and URLs to the local server (`/_uploads/<key>`) signed with HMAC in place of S3's presigned URLs: the
 * method, key, expiry (and a download's file name) are signed, so a URL works for one thing until it expires.
 */
export class FsUploadStore implements UploadStore {
  private readonly key: Buffer;

  constructor(
    private readonly root: string,
    private readonly options: {
      /** Where the local server answers, e.g. `http://localhost:3000`. */
      baseUrl: string;
      /** Secret the URL signatures derive from (the local token secret). */
      secret: string;
      now?: () => Date;
    },
  ) {
    // A key of its own: an upload signature can never stand for a subscriber token, or the other way round.
    this.key = createHmac('sha256', options.secret).update('inkwire local upload URLs').digest();
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The file of a key; throws on any key a job never uses (no path tricks reach the disk). */
  file(key: string): string {
    if (!KEY.test(key)) throw new Error(`invalid job file key ${key.slice(0, 100)}`);
    return join(this.root, key);
  }

  private signature(method: 'PUT' | 'GET', key: string, expires: number, filename = ''): string {
    return createHmac('sha256', this.key).update(`${method}\n/${key}\n${expires}\n${filename}`).digest('base64url');
  }

  private signedUrl(method: 'PUT' | 'GET', key: string, expiresInSeconds: number, filename?: string): string {
    this.file(key);
    const expires = Math.floor(this.now().getTime() / 1000) + expiresInSeconds;
    const q = new URLSearchParams({ expires: String(expires) });
    if (filename) q.set('filename', filename);
    q.set('signature', this.signature(method, key, expires, filename));
    return `${this.options.baseUrl.replace(/\/+$/, '')}/_uploads/${key}?${q}`;
  }

  async uploadUrl(key: string, options: { contentType: string; expiresInSeconds: number }): Promise<{ url: string; headers: Record<string, string> }> {
    return { url: this.signedUrl('PUT', key, options.expiresInSeconds), headers: { 'content-type': options.contentType } };
  }

  async downloadUrl(key: string, options: { contentType: string; filename: string; expiresInSeconds: number }): Promise<string> {
    return this.signedUrl('GET', key, options.expiresInSeconds, options.filename);
  }

  /** Checks a request's signed URL: signature first (a forged URL learns nothing about expiry), then expiry. */
  check(method: 'PUT' | 'GET', key: string, query: { expires?: string | undefined; signature?: string | undefined; filename?: string | undefined }): UrlCheck {
    if (!KEY.test(key)) return { ok: false, reason: 'there is no such file' };
    const { expires, signature } = query;
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) {
      return { ok: false, reason: 'the URL is not signed: use the URL exactly as the API returned it, with its expires and signature parameters' };
    }
    const expected = Buffer.from(this.signature(method, key, Number(expires), query.filename ?? ''));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { ok: false, reason: `the URL's signature does not match: use the URL exactly as the API returned it, for a ${method}` };
    }
    if (Number(expires) * 1000 < this.now().getTime()) {
      return { ok: false, reason: `the URL expired at ${new Date(Number(expires) * 1000).toISOString()}; ask the API for a new one` };
    }
    return { ok: true };
  }

  /**
   * Stores an uploaded body, never holding it whole: written beside the target and renamed into place
   * once complete, so a reader never sees half a file. Over `maxBytes` it stops, leaves nothing, and
   * throws {@link UploadTooLarge}.
   */
  async receive(key: string, body: Readable, maxBytes: number): Promise<{ size: number; etag: string }> {
    const file = this.file(key);
    await mkdir(dirname(file), { recursive: true });
    const part = `${file}.${randomBytes(6).toString('hex')}.part`;
    let size = 0;
    const md5 = createHash('md5');
    const limit = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new UploadTooLarge(maxBytes));
        md5.update(chunk);
        done(null, chunk);
      },
    });
    const out = createWriteStream(part, { mode: 0o600 });
    try {
      await pipeline(body, limit, out);
      await rename(part, file);
    } catch (e) {
      await removePart(out, part);
      throw e;
    }
    return { size, etag: md5.digest('hex') };
  }

  async open(key: string): Promise<{ body: Readable; size: number } | undefined> {
    const file = this.file(key);
    try {
      const { size } = await stat(file);
      return { body: createReadStream(file), size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async write(key: string, chunks: AsyncIterable<string | Uint8Array>, _options: { contentType: string }): Promise<{ bytes: number }> {
    const file = this.file(key);
    await mkdir(dirname(file), { recursive: true });
    const part = `${file}.${randomBytes(6).toString('hex')}.part`;
    let bytes = 0;
    const counted = async function* () {
      for await (const chunk of chunks) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        bytes += b.length;
        yield b;
      }
    };
    const out = createWriteStream(part, { mode: 0o600 });
    try {
      await pipeline(counted, out);
      await rename(part, file);
    } catch (e) {
      await removePart(out, part);
      throw e;
    }
    return { bytes };
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  /**
   * Deletes every job file (and half-written part) last written more than `maxAgeMs` ago, as the jobs
   * bucket's lifecycle rule does in AWS: job files hold personal data. Returns how many it deleted.
   */
  async sweep(maxAgeMs: number): Promise<number> {
    const before = this.now().getTime() - maxAgeMs;
    let deleted = 0;
    for (const dir of ['imports', 'exports']) {
      const names = await readdir(join(this.root, dir)).catch(() => [] as string[]);
      for (const name of names) {
        const file = join(this.root, dir, name);
        const info = await stat(file).catch(() => undefined);
        if (info?.isFile() && info.mtimeMs < before) {
          await rm(file, { force: true });
          deleted++;
        }
      }
    }
    return deleted;
  }
}

/**
 * Removes a part file after a failed write. The stream opens its file asynchronously: a source that fails
 * at once can reject the pipeline before the file exists, so the file is removed only once the stream closed.
 */
async function removePart(out: WriteStream, part: string): Promise<void> {
  if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
  await rm(part, { force: true });
}
