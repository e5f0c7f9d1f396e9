import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DOCUMENT_CACHE_ENTRIES, FsDocumentStore } from '../../lambdas/adapters/local/fs-document-store.ts';

const dirs: string[] = [];
const newStore = (maxEntries?: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'inkwire-docs-'));
  dirs.push(dir);
  return new FsDocumentStore(dir, () => new Date('2026-01-01T00:00:00Z'), maxEntries);
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('FsDocumentStore memory', () => {
  it('does not remember paths that have no document, however many are asked for', async () => {
    const store = newStore();
    await store.put({ path: '/feed.xml', body: '<feed/>', contentType: 'application/atom+xml', lastModified: '2026-01-01T00:00:00Z' });
    for (let i = 0; i < 5000; i++) expect(await store.get(`/no/such/${i}.xml`)).toBeUndefined();
    expect(store.cacheSize).toBe(1);
    // A document written after a miss is found (no stale miss is kept).
    await store.put({ path: '/no/such/1.xml', body: 'now', contentType: 'text/plain', lastModified: '2026-01-01T00:00:00Z' });
    expect((await store.get('/no/such/1.xml'))?.body.toString()).toBe('now');
  });

  it('keeps at most its bound of documents, dropping the least recently read, and still serves every one', async () => {
    expect(DOCUMENT_CACHE_ENTRIES).toBeGreaterThanOrEqual(1000);
    const store = newStore(10);
    for (let i = 0; i < 30; i++)
      await store.put({ path: `/tags/t${i}/feed.xml`, body: `doc ${i}`, contentType: 'application/atom+xml', lastModified: '2026-01-01T00:00:00Z' });
    expect(store.cacheSize).toBe(10);
    for (let i = 0; i < 30; i++) expect((await store.get(`/tags/t${i}/feed.xml`))?.body.toString()).toBe(`doc ${i}`);
    expect(store.cacheSize).toBe(10);
    await store.delete('/tags/t29/feed.xml');
    expect(await store.get('/tags/t29/feed.xml')).toBeUndefined();
    expect(store.cacheSize).toBe(9);
  });
});

describe('FsDocumentStore read', () => {
  it('reads back the text it stored, and nothing where there is none', async () => {
    const store = newStore();
    await store.put({ path: '/_site/articles/a1.json', body: '{"slug":"caf\u00e9"}', contentType: 'application/json', lastModified: '2026-01-01T00:00:00Z' });
    expect(await store.read('/_site/articles/a1.json')).toBe('{"slug":"caf\u00e9"}');
    expect(await store.read('/_site/articles/none.json')).toBeUndefined();
    await store.delete('/_site/articles/a1.json');
    expect(await store.read('/_site/articles/a1.json')).toBeUndefined();
  });
});
