import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lambdas/local/dynamodb-local.ts';
import { startTestRuntime, TEST_KEY, type TestRuntime } from '../support/runtime.ts';

let rt: TestRuntime;
let hub: Server;
const pings: string[] = [];

beforeAll(async () => {
  const port = await freePort();
  hub = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      pings.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hub.listen(port, '127.0.0.1', () => r()));
  rt = await startTestRuntime({ WEBSUB_HUB: `http://127.0.0.1:${port}/hub` });
});
afterAll(async () => {
  await rt?.cleanup();
  hub?.close();
});

describe('nothing a client sends produces a 500', () => {
  const auth = { authorization: `Bearer ${TEST_KEY}` };
  const cases: [string, string, RequestInit][] = [
    ['null body', '/api/articles', { method: 'POST', body: 'null', headers: { ...auth, 'content-type': 'application/json' } }],
    ['array body', '/api/articles', { method: 'POST', body: '[1,2]', headers: { ...auth, 'content-type': 'application/json' } }],
    ['string body', '/api/articles', { method: 'POST', body: '"x"', headers: { ...auth, 'content-type': 'application/json' } }],
    ['empty body', '/api/articles', { method: 'POST', body: '', headers: { ...auth, 'content-type': 'application/json' } }],
    ['deeply nested', '/api/articles', { method: 'POST', body: '['.repeat(5000) + ']'.repeat(5000), headers: { ...auth, 'content-type': 'application/json' } }],
    ['wrong types', '/api/articles', { method: 'POST', body: JSON.stringify({ title: 1, body: {}, tags: 'x', authors: [null] }), headers: { ...auth, 'content-type': 'application/json' } }],
    ['impossible date', '/api/articles', { method: 'POST', body: JSON.stringify({ title: 't', body: 'b', status: 'published', publishAt: '2024-02-30T00:00:00Z' }), headers: { ...auth, 'content-type': 'application/json' } }],
    ['ancient date', '/api/articles', { method: 'POST', body: JSON.stringify({ title: 't', body: 'b', status: 'published', publishAt: '0001-01-01T00:00:00Z' }), headers: { ...auth, 'content-type': 'application/json' } }],
    ['NUL in body', '/api/articles', { method: 'POST', body: JSON.stringify({ title: 't', body: 'a\u0000b' }), headers: { ...auth, 'content-type': 'application/json' } }],
    ['lone surrogate', '/api/articles', { method: 'POST', body: '{"title":"\\ud800","body":"x"}', headers: { ...auth, 'content-type': 'application/json' } }],
    ['tag of punctuation only', '/api/articles', { method: 'POST', body: JSON.stringify({ title: 't', body: 'b', tags: ['!!!'] }), headers: { ...auth, 'content-type': 'application/json' } }],
    ['url with a javascript scheme', '/api/articles', { method: 'POST', body: JSON.stringify({ title: 't', body: 'b', url: 'javascript:alert(1)' }), headers: { ...auth, 'content-type': 'application/json' } }],
    ['limit out of range', '/api/articles?limit=100000', { headers: auth }],
    ['limit not a number', '/api/articles?limit=abc', { headers: auth }],
    ['bad status filter', '/api/articles?status=deleted', { headers: auth }],
    ['garbage cursor', '/api/articles?cursor=%%%', { headers: auth }],
    ['id with dots', '/api/articles/..%2F..%2Fetc', { headers: auth }],
    ['very long id', `/api/articles/${'a'.repeat(5000)}`, { headers: auth }],
    ['PATCH unknown article', '/api/articles/00000000000000000000000000', { method: 'PATCH', body: '{"title":"x"}', headers: { ...auth, 'content-type': 'application/json' } }],
    ['DELETE twice-unknown', '/api/articles/00000000000000000000000000', { method: 'DELETE', headers: auth }],
    ['unknown method', '/api/articles', { method: 'PROPFIND', headers: auth }],
    ['traversal in a feed path', '/tags/..%2F..%2Fapi-key/feed.xml', {}],
    ['bad If-Modified-Since', '/feed.xml', { headers: { 'if-modified-since': 'yesterday' } }],
    ['authorization of another scheme', '/api/articles', { headers: { authorization: 'Basic Zm9vOmJhcg==' } }],
  ];
  for (const [name, path, init] of cases) {
    it(`answers ${name} with a 4xx (or a 2xx/304) and a message`, async () => {
      const res = await fetch(rt.url + path, init);
      expect(res.status, `${name}: ${await res.clone().text()}`).toBeLessThan(500);
      if (res.status >= 400 && res.headers.get('content-type')?.includes('json')) {
        const body = (await res.json()) as { error: { message: string } };
        expect(body.error.message.length).toBeGreaterThan(5);
      }
    });
  }
});

describe('WebSub', () => {
  it('advertises the hub and pings it after a rebuild', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: { title: 'Hub news', body: 'x', status: 'published' } });
    const { id } = await res.json();
    const atom = await rt.waitFor('/atom.xml', (t) => t.includes(id));
    expect(atom).toContain(`rel="hub" href="${new URL('/hub', hub.address() ? `http://127.0.0.1:${(hub.address() as { port: number }).port}` : '').href}"`);
    const deadline = Date.now() + 5000;
    while (!pings.some((p) => p.includes(encodeURIComponent(`${rt.url}/atom.xml`))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const params = pings.map((p) => new URLSearchParams(p));
    expect(params.some((p) => p.get('hub.mode') === 'publish' && p.get('hub.url') === `${rt.url}/atom.xml`)).toBe(true);
    expect(params.some((p) => p.get('hub.url') === `${rt.url}/feed.xml`)).toBe(true);
  });
});
