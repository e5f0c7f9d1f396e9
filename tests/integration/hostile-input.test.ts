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
    [
      'wrong types',
      '/api/articles',
      { method: 'POST', body: JSON.stringify({ title: 1, body: {}, tags: 'x', authors: [null] }), headers: { ...auth, 'content-type': 'application/json' } },
    ],
    [
      'impossible date',
      '/api/articles',
      {
        method: 'POST',
        body: JSON.stringify({ title: 't', body: 'b', status: 'published', publishAt: '2024-02-30T00:00:00Z' }),
        headers: { ...auth, 'content-type': 'application/json' },
      },
    ],
    [
      'ancient date',
      '/api/articles',
      {
        method: 'POST',
        body: JSON.stringify({ title: 't', body: 'b', status: 'published', publishAt: '0001-01-01T00:00:00Z' }),
        headers: { ...auth, 'content-type': 'application/json' },
      },
    ],
    [
      'NUL in body',
      '/api/articles',
      { method: 'POST', body: JSON.stringify({ title: 't', body: 'a\u0000b' }), headers: { ...auth, 'content-type': 'application/json' } },
    ],
    ['lone surrogate', '/api/articles', { method: 'POST', body: '{"title":"\\ud800","body":"x"}', headers: { ...auth, 'content-type': 'application/json' } }],
    [
      'tag of punctuation only',
      '/api/articles',
      { method: 'POST', body: JSON.stringify({ title: 't', body: 'b', tags: ['!!!'] }), headers: { ...auth, 'content-type': 'application/json' } },
    ],
    [
      'url with a javascript scheme',
      '/api/articles',
      { method: 'POST', body: JSON.stringify({ title: 't', body: 'b', url: 'javascript:alert(1)' }), headers: { ...auth, 'content-type': 'application/json' } },
    ],
    ['limit out of range', '/api/articles?limit=100000', { headers: auth }],
    ['limit not a number', '/api/articles?limit=abc', { headers: auth }],
    ['bad status filter', '/api/articles?status=deleted', { headers: auth }],
    ['garbage cursor', '/api/articles?cursor=%%%', { headers: auth }],
    ['id with dots', '/api/articles/..%2F..%2Fetc', { headers: auth }],
    ['very long id', `/api/articles/${'a'.repeat(5000)}`, { headers: auth }],
    [
      'PATCH unknown article',
      '/api/articles/00000000000000000000000000',
      { method: 'PATCH', body: '{"title":"x"}', headers: { ...auth, 'content-type': 'application/json' } },
    ],
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

describe('malformed input is a 400 that says what was expected and what came', () => {
  const auth = { authorization: `Bearer ${TEST_KEY}` };
  const cursor = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

  for (const path of ['/subscribe', '/confirm?token=x', '/preferences?token=x', '/unsubscribe?token=x']) {
    it(`POST ${path.split('?')[0]} with a malformed multipart body answers the error page with a 400`, async () => {
      for (const contentType of ['multipart/form-data', 'multipart/form-data; boundary=zzz']) {
        const res = await fetch(rt.url + path, { method: 'POST', headers: { 'content-type': contentType }, body: 'abc' });
        const html = await res.text();
        expect(res.status, html).toBe(400);
        expect(res.headers.get('content-type')).toContain('text/html');
        expect(html).toContain('not valid multipart/form-data');
        expect(html).toMatch(/received a body starting (&quot;|&#34;)abc(&quot;|&#34;)/);
      }
    });
  }

  for (const list of ['/api/articles', '/api/sends', '/api/subscribers']) {
    it(`GET ${list} with a forged cursor answers 400 with a message`, async () => {
      const forged = [
        cursor({}),
        cursor({ PK: 'x', SK: 'y', GSI1PK: 'OTHER', GSI1SK: 'z' }),
        cursor({ PK: 1, SK: 'y', GSI1PK: 'ARTICLES', GSI1SK: 'z' }),
        cursor({ PK: '', SK: '', GSI1PK: '', GSI1SK: '' }),
        cursor({ PK: 'x', SK: 'y', GSI1PK: 'SENDS', GSI1SK: 'z', extra: 'e' }),
        cursor([]),
        `0.${cursor({})}`,
        `0.${cursor({ PK: 'x', SK: 'y', GSI1PK: 'SUBS#confirmed', GSI1SK: '' })}`,
      ];
      for (const c of forged) {
        const res = await fetch(`${rt.url}${list}?cursor=${encodeURIComponent(c)}`, { headers: auth });
        const body = (await res.json()) as { error: { code: string; message: string; issues: { path: string }[] } };
        expect(res.status, `${c}: ${JSON.stringify(body)}`).toBe(400);
        expect(body.error.code).toBe('request.invalid');
        expect(body.error.message).toMatch(/^cursor is not one this API returned/);
        expect(body.error.issues[0]!.path).toBe('cursor');
      }
    });
  }

  it('a real cursor still pages', async () => {
    for (const title of ['Page one', 'Page two']) await rt.api('/api/articles', { method: 'POST', json: { title, body: 'x' } });
    const first = await (await rt.api('/api/articles?limit=1')).json();
    expect(first.next).toEqual(expect.any(String));
    const second = await rt.api(`/api/articles?limit=1&cursor=${first.next}`);
    expect(second.status).toBe(200);
    const page = (await second.json()) as { items: { id: string }[] };
    expect(page.items).toHaveLength(1);
    expect(page.items[0]!.id).not.toBe(first.items[0].id);
  });

  for (const list of ['/api/articles', '/api/sends', '/api/subscribers']) {
    it(`GET ${list}?limit=abc says a whole number from 1 to 100 was expected and "abc" came`, async () => {
      for (const [value, received] of [
        ['abc', '"abc"'],
        ['1.5', '"1.5"'],
        ['0', '"0"'],
        ['1000', '"1000"'],
        ['', '""'],
      ]) {
        const res = await fetch(`${rt.url}${list}?limit=${value}`, { headers: auth });
        const body = (await res.json()) as { error: { message: string; issues: { path: string; message: string }[] } };
        expect(res.status).toBe(400);
        expect(body.error.issues).toEqual([{ path: 'limit', message: `expected a whole number from 1 to 100, received ${received}` }]);
      }
    });
  }

  it('an address with a bidi control is refused at /subscribe (JSON and form), saying so', async () => {
    const json = await fetch(`${rt.url}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@b.c\u202e' }),
    });
    const body = (await json.json()) as { error: { issues: { path: string; message: string }[] } };
    expect(json.status).toBe(400);
    expect(body.error.issues).toEqual([{ path: 'email', message: 'must not contain a bidirectional-text control (U+202E)' }]);
    const form = await fetch(`${rt.url}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=a%40b.c%E2%80%AE',
    });
    expect(form.status).toBe(400);
    expect(await form.text()).toContain('bidirectional-text control (U+202E)');
  });

  it('an unknown field in a JSON body is reported by its name, not at the path "body"', async () => {
    const res = await rt.api('/api/articles', { method: 'POST', json: { title: 't', body: 'b', bdoy: 'x', color: 'red' } });
    const body = await res.json();
    expect(res.status).toBe(400);
    expect(body.error.issues).toEqual([
      { path: 'bdoy', message: 'unknown field' },
      { path: 'color', message: 'unknown field' },
    ]);
    expect(body.error.message).toBe('invalid body: bdoy: unknown field; color: unknown field');
  });
});

describe('bad-input sweep: every operation of the OpenAPI document and the public pages', () => {
  const auth = { authorization: `Bearer ${TEST_KEY}` };
  // Huge strings, well under the body limits (256 KiB for the API, 16 KiB for the public pages): past them the
  // answer is a 413 that closes the connection before the request is read, which fetch reports as an error.
  const hugeFor = (path: string) => 'x'.repeat(path.startsWith('/api/') ? 25_000 : 3_000);
  const controls = '\u0000\u0007\u0085\u2028\u202e\ufffd';
  const forgedCursors = [
    'e30',
    Buffer.from(JSON.stringify({ PK: 'x', SK: 'y', GSI1PK: 'z', GSI1SK: 'w' })).toString('base64url'),
    '%%%',
    '0.e30',
    'x'.repeat(1999),
  ];
  const queryValues = ['abc', '', '-1', '1e309', 'x'.repeat(5000), controls, '[object Object]'];
  const bodies: [string, RequestInit][] = [
    ['malformed JSON', { body: '{"a":', headers: { 'content-type': 'application/json' } }],
    ['JSON null', { body: 'null', headers: { 'content-type': 'application/json' } }],
    ['JSON array', { body: '[1]', headers: { 'content-type': 'application/json' } }],
    ['wrong content type', { body: 'title=x', headers: { 'content-type': 'text/plain' } }],
    ['no content type', { body: '{}' }],
    ['malformed multipart', { body: 'abc', headers: { 'content-type': 'multipart/form-data' } }],
    ['multipart with a boundary and no parts', { body: 'abc', headers: { 'content-type': 'multipart/form-data; boundary=zz' } }],
    ['malformed urlencoded', { body: '%%%=%&a=%E2%80', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    [
      'control characters',
      {
        body: JSON.stringify({
          title: controls,
          body: controls,
          email: `a${controls}@b.c`,
          name: controls,
          subject: controls,
          kind: controls,
          addresses: [controls],
        }),
        headers: { 'content-type': 'application/json' },
      },
    ],
    [
      'wrong types',
      {
        body: JSON.stringify({ title: 1, body: [], email: {}, kind: 7, limit: 'abc', addresses: 'x', topics: 'y' }),
        headers: { 'content-type': 'application/json' },
      },
    ],
  ];

  const check = async (label: string, url: string, init: RequestInit) => {
    const res = await fetch(url, { ...init, redirect: 'manual' }).catch((e: unknown) => {
      throw new Error(`${label}: ${String(e)}`);
    });
    const text = await res.text();
    expect(res.status, `${label}: ${text.slice(0, 300)}`).toBeLessThan(500);
  };

  it('answers no malformed request with a 5xx', { timeout: 120_000 }, async () => {
    const doc = (await (await fetch(`${rt.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    expect(operations.length).toBeGreaterThan(10);
    const publicPages = ['/subscribe', '/confirm', '/preferences', '/unsubscribe'];
    for (const p of publicPages) if (!operations.some((o) => o.path === p && o.method === 'POST')) operations.push({ path: p, method: 'POST', op: {} });
    let sent = 0;
    for (const { path, method, op } of operations) {
      for (const id of ['00000000000000000000000000', '..%2F%00%E2%80%AE']) {
        const url = `${rt.url}${path.replace(/\{[^}]+\}/g, id)}`;
        const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        if (method === 'GET' || method === 'DELETE') {
          await check(`${method} ${url}`, url, { method, headers: auth });
          sent++;
          for (const name of query) {
            for (const v of name === 'cursor' ? forgedCursors : queryValues) {
              await check(`${method} ${url}?${name}=${v.slice(0, 40)}`, `${url}?${name}=${encodeURIComponent(v)}`, { method, headers: auth });
              sent++;
            }
          }
          continue;
        }
        const huge = hugeFor(path);
        const hugeBody: [string, RequestInit] = [
          'huge strings',
          { body: JSON.stringify({ title: huge, body: huge, email: huge, subject: huge }), headers: { 'content-type': 'application/json' } },
        ];
        for (const [label, init] of [...bodies, hugeBody]) {
          await check(`${method} ${url} ${label}`, url, { ...init, method, headers: { ...auth, ...(init.headers as Record<string, string>) } });
          sent++;
        }
      }
    }
    expect(sent).toBeGreaterThan(100);
  });
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
