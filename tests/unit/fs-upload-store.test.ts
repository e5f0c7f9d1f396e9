import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FixedClock } from '../../lambdas/core/clock.ts';
import { FsUploadStore, UploadTooLarge } from '../../lambdas/adapters/local/upload-store.ts';

let root: string;
let clock: FixedClock;
let store: FsUploadStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'inkwire-uploads-'));
  clock = new FixedClock('2024-02-11T10:00:00Z');
  store = new FsUploadStore(root, { baseUrl: 'http://localhost:3000/', secret: 'local-token-secret', now: () => clock.now() });
});
afterEach(() => rm(root, { recursive: true, force: true }));

const queryOf = (url: string) => Object.fromEntries(new URL(url).searchParams);
const files = async (dir: string) => (await readdir(join(root, dir)).catch(() => [] as string[])).sort();

describe('signed URLs of the local jobs folder', () => {
  it('signs a PUT of one key until it expires, and refuses anything else with a reason', async () => {
    const { url, headers } = await store.uploadUrl('imports/abc123.csv', { contentType: 'text/csv', expiresInSeconds: 3600 });
    expect(headers).toEqual({ 'content-type': 'text/csv' });
    expect(url).toMatch(/^http:\/\/localhost:3000\/_uploads\/imports\/abc123\.csv\?expires=\d+&signature=[\w-]{43}$/);
    const q = queryOf(url);
    expect(Number(q.expires)).toBe(Date.parse('2024-02-11T11:00:00Z') / 1000);
    expect(store.check('PUT', 'imports/abc123.csv', q)).toEqual({ ok: true });

    // Another method, key, expiry or signature: refused, saying the signature does not match.
    for (const [method, key, query] of [
      ['GET', 'imports/abc123.csv', q],
      ['PUT', 'imports/abc124.csv', q],
      ['PUT', 'imports/abc123.csv', { ...q, expires: String(Number(q.expires) + 60) }],
      ['PUT', 'imports/abc123.csv', { ...q, signature: `${q.signature!.slice(0, -1)}${q.signature!.endsWith('A') ? 'B' : 'A'}` }],
      ['PUT', 'imports/abc123.csv', { ...q, signature: 'short' }],
    ] as const) {
      const check = store.check(method, key, query);
      expect(check.ok).toBe(false);
      expect(!check.ok && check.reason).toMatch(/signature does not match/);
    }
    expect(store.check('PUT', 'imports/abc123.csv', {})).toMatchObject({ ok: false, reason: expect.stringMatching(/not signed/) });
    expect(store.check('PUT', 'imports/../token-secret', q)).toMatchObject({ ok: false, reason: 'there is no such file' });

    clock.advance(3600_000 + 1000);
    expect(store.check('PUT', 'imports/abc123.csv', q)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^the URL expired at 2024-02-11T11:00:00\.000Z/),
    });
  });

  it('a key derived from another secret signs differently', async () => {
    const other = new FsUploadStore(root, { baseUrl: 'http://localhost:3000', secret: 'another-secret', now: () => clock.now() });
    const { url } = await other.uploadUrl('imports/abc123.csv', { contentType: 'text/csv', expiresInSeconds: 60 });
    expect(store.check('PUT', 'imports/abc123.csv', queryOf(url)).ok).toBe(false);
  });

  it('signs the file name of a download', async () => {
    const url = await store.downloadUrl('exports/e1.csv', { contentType: 'text/csv', filename: 'subscribers-2024-02-11.csv', expiresInSeconds: 900 });
    const q = queryOf(url);
    expect(q.filename).toBe('subscribers-2024-02-11.csv');
    expect(store.check('GET', 'exports/e1.csv', q)).toEqual({ ok: true });
    expect(store.check('GET', 'exports/e1.csv', { ...q, filename: 'x.csv' }).ok).toBe(false);
    expect(store.check('PUT', 'exports/e1.csv', q).ok).toBe(false);
  });

  it('never signs or touches a key outside imports/ and exports/', async () => {
    await expect(store.uploadUrl('../secret.csv', { contentType: 'text/csv', expiresInSeconds: 60 })).rejects.toThrow(/invalid job file key/);
    await expect(store.open('imports/../../etc/passwd')).rejects.toThrow(/invalid job file key/);
    await expect(store.delete('public/feed.xml')).rejects.toThrow(/invalid job file key/);
  });
});

describe('job files', () => {
  it('receives an upload into place, or nothing when it is over the limit', async () => {
    const stored = await store.receive('imports/u1.csv', Readable.from(['email\n', 'a@example.org\n']), 1000);
    // The ETag S3 gives a single PUT: the MD5 of the bytes.
    expect(stored).toEqual({ size: 20, etag: createHash('md5').update('email\na@example.org\n').digest('hex') });
    expect(await readFile(join(root, 'imports/u1.csv'), 'utf8')).toBe('email\na@example.org\n');

    await expect(store.receive('imports/u2.csv', Readable.from(['x'.repeat(600), 'y'.repeat(600)]), 1000)).rejects.toBeInstanceOf(UploadTooLarge);
    expect(await files('imports')).toEqual(['u1.csv']);
  });

  it('writes a file from chunks, and leaves nothing when the chunks fail', async () => {
    const chunks = (async function* () {
      yield 'id,email\r\n';
      yield new TextEncoder().encode('1,a@example.org\r\n');
    })();
    expect(await store.write('exports/e1.csv', chunks, { contentType: 'text/csv' })).toEqual({ bytes: 27 });
    expect(await readFile(join(root, 'exports/e1.csv'), 'utf8')).toBe('id,email\r\n1,a@example.org\r\n');
    const failing = (async function* () {
      yield 'id,email\r\n';
      throw new Error('the table read failed');
    })();
    await expect(store.write('exports/e2.csv', failing, { contentType: 'text/csv' })).rejects.toThrow('the table read failed');
    expect(await files('exports')).toEqual(['e1.csv']);
    expect(await store.open('exports/e2.csv')).toBeUndefined();
  });

  it('sweeps files older than the given age, as the bucket lifecycle does', async () => {
    await mkdir(join(root, 'imports'), { recursive: true });
    await mkdir(join(root, 'exports'), { recursive: true });
    for (const f of ['imports/old.csv', 'exports/old.csv', 'exports/new.csv', 'imports/old.csv.abc.part']) await writeFile(join(root, f), 'x');
    const twoDaysAgo = new Date(clock.now().getTime() - 2 * 86_400_000);
    for (const f of ['imports/old.csv', 'exports/old.csv', 'imports/old.csv.abc.part']) await utimes(join(root, f), twoDaysAgo, twoDaysAgo);
    const anHourAgo = new Date(clock.now().getTime() - 3_600_000);
    await utimes(join(root, 'exports/new.csv'), anHourAgo, anHourAgo);
    expect(await store.sweep(86_400_000)).toBe(3);
    expect(await files('imports')).toEqual([]);
    expect(await files('exports')).toEqual(['new.csv']);
  });
});
