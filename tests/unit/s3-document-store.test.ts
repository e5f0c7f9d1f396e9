/** The S3 document store with the real S3Client against a stand-in for S3's REST API (tests/support/fake-s3.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3DocumentStore } from '../../lambdas/adapters/s3/s3-document-store.ts';
import { FakeBucket, fakeS3Client } from '../support/fake-s3.ts';

const bucket = new FakeBucket();
beforeAll(() => bucket.start());
afterAll(() => bucket.stop());

describe('S3DocumentStore', () => {
  it('writes changed bytes only, reads back what it wrote, and reads a missing key (403) as none', async () => {
    const store = new S3DocumentStore(fakeS3Client(bucket), 'feeds');
    const doc = { path: '/_site/articles/a1.json', body: '{"slug":"caf\u00e9"}', contentType: 'application/json', lastModified: '2026-01-01T00:00:00.000Z' };
    expect(await store.read(doc.path)).toBeUndefined();
    expect(await store.put(doc)).toBe(true);
    expect(await store.put(doc)).toBe(false);
    expect(bucket.calls.filter((c) => c.startsWith('PUT'))).toEqual(['PUT _site/articles/a1.json']);
    expect(await store.read(doc.path)).toBe('{"slug":"caf\u00e9"}');
    await store.delete(doc.path);
    expect(await store.read(doc.path)).toBeUndefined();
  });
});
