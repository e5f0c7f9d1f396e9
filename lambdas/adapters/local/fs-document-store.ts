import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { ReadableDocumentStore, StoredDocumentInput } from '../../core/feeds/ports.ts';

export interface StoredDocument {
  body: Buffer;
  contentType: string;
  etag: string;
  lastModified: Date;
}

interface Meta {
  contentType: string;
  sha256: string;
  /** The content's own date (its newest entry), kept as S3 keeps it in object metadata. */
  contentUpdated: string;
  /** When these bytes were written: the document's Last-Modified, as S3 reports it. */
  writtenAt: string;
}

/** Documents kept in memory at most; the least recently read goes first. */
export const DOCUMENT_CACHE_ENTRIES = 2000;

/**
 * The local stand-in for the S3 bucket: one file per document under `root`, with a small metadata file
 * beside it. Reads are served from memory after the first, for the {@link DOCUMENT_CACHE_ENTRIES} most
 * recently read documents; a path with no document is not remembered (any URL can be asked for, and
 * remembering each would grow the heap without bound). This process is the folder's only writer.
 */
export class FsDocumentStore implements ReadableDocumentStore {
  private readonly cache = new Map<string, StoredDocument>();

  constructor(
    private readonly root: string,
    private readonly now: () => Date = () => new Date(),
    private readonly maxEntries: number = DOCUMENT_CACHE_ENTRIES,
  ) {}

  /** Documents held in memory (for tests). */
  get cacheSize(): number {
    return this.cache.size;
  }

  private remember(path: string, doc: StoredDocument): void {
    this.cache.delete(path);
    this.cache.set(path, doc);
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private file(path: string): string {
    const clean = normalize(path).replace(/^(\.\.(\/|\\|$))+/, '');
    if (!clean.startsWith('/') || clean.includes('..')) throw new Error(`invalid document path ${path}`);
    return join(this.root, clean);
  }

  async put(doc: StoredDocumentInput): Promise<boolean> {
    const body = Buffer.from(doc.body, 'utf8');
    const sha256 = createHash('sha256').update(body).digest('hex');
    const current = await this.get(doc.path);
    if (current && current.etag === `"${sha256.slice(0, 32)}"` && current.contentType === doc.contentType) return false;
    const file = this.file(doc.path);
    await mkdir(dirname(file), { recursive: true });
    // Last-Modified is the time the bytes changed, never the newest entry's date: removing the newest
    // entry changes the document while that date goes back, and a client asking If-Modified-Since
    // would be told, wrongly, that nothing changed.
    const meta: Meta = { contentType: doc.contentType, sha256, contentUpdated: doc.lastModified, writtenAt: this.now().toISOString() };
    await writeFile(`${file}.tmp`, body);
    await writeFile(`${file}.meta.json.tmp`, JSON.stringify(meta));
    await rename(`${file}.tmp`, file);
    await rename(`${file}.meta.json.tmp`, `${file}.meta.json`);
    this.remember(doc.path, toStored(body, meta));
    return true;
  }

  async delete(path: string): Promise<void> {
    const file = this.file(path);
    await rm(file, { force: true });
    await rm(`${file}.meta.json`, { force: true });
    this.cache.delete(path);
  }

  async read(path: string): Promise<string | undefined> {
    return (await this.get(path))?.body.toString('utf8');
  }

  async get(path: string): Promise<StoredDocument | undefined> {
    const hit = this.cache.get(path);
    if (hit) {
      this.remember(path, hit);
      return hit;
    }
    let file: string;
    try {
      file = this.file(path);
    } catch {
      return undefined;
    }
    try {
      const [body, metaText] = await Promise.all([readFile(file), readFile(`${file}.meta.json`, 'utf8')]);
      const stored = toStored(body, JSON.parse(metaText) as Meta);
      this.remember(path, stored);
      return stored;
    } catch {
      return undefined;
    }
  }
}

function toStored(body: Buffer, meta: Meta): StoredDocument {
  return {
    body,
    contentType: meta.contentType,
    etag: `"${meta.sha256.slice(0, 32)}"`,
    lastModified: new Date(meta.writtenAt ?? (meta as unknown as { lastModified: string }).lastModified),
  };
}
