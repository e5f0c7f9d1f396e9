import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parsePlainTextArticle } from '../../lambdas/core/articles/plain-text.ts';
import { runCli, type CliIo } from '../../lambdas/cli/main.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLE_TXT = join(ROOT, 'tests/fixtures/articles/2024-02-11-us-drone-strike-baghdad.txt');
const KEY = 'test-key-123';

// ---------------------------------------------------------------------------------------------
// A stand-in for the articles API: records every request and answers in the API's shapes.

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  json: any;
}

interface StoredArticle {
  id: string;
  title: string;
  url: string;
  status: string;
  publishAt?: string;
  publishedAt?: string;
  createdAt: string;
  updatedAt: string;
  [k: string]: unknown;
}

class FakeApi {
  requests: Recorded[] = [];
  articles: StoredArticle[] = [];
  idempotency = new Map<string, { body: string; response: StoredArticle }>();
  /** Largest page the server hands out, to make the CLI follow cursors. */
  pageSize = 2;
  private server!: Server;
  private counter = 0;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        let json: unknown;
        try {
          json = raw ? JSON.parse(raw) : undefined;
        } catch {
          json = undefined;
        }
        this.requests.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, rawBody: raw, json });
        const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
          res.end(body === undefined ? undefined : JSON.stringify(body));
        };
        const fail = (status: number, code: string, message: string, issues?: { path: string; message: string }[]) =>
          send(status, { error: { code, message, ...(issues ? { issues } : {}) } });

        if (req.headers.authorization !== `Bearer ${KEY}`) return fail(401, 'auth.invalidKey', 'the API key is not valid');
        const m = /^\/api\/articles(?:\/([^/]+))?$/.exec(u.pathname);
        if (!m) return fail(404, 'route.notFound', 'no such route');
        const id = m[1];

        if (req.method === 'POST' && !id) {
          const input = json as Record<string, any>;
          if (input.title === 'gateway') {
            res.writeHead(502, { 'content-type': 'text/html' });
            return res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
          }
          if (input.title === 'invalid') {
            return fail(400, 'request.invalid', 'invalid body: url: must be an absolute http(s) URL; publishAt: must not be in the future', [
              { path: 'url', message: 'must be an absolute http(s) URL' },
              { path: 'publishAt', message: 'must not be in the future when status is published' },
            ]);
          }
          if (typeof input.body !== 'string' || !input.body) {
            return fail(400, 'request.invalid', 'invalid body: body: must not be empty', [{ path: 'body', message: 'must not be empty' }]);
          }
          if (input.tags?.some((t: string) => t.length > 20)) {
            return fail(400, 'request.invalid', 'invalid body: tags.0: too long', [{ path: 'tags.0', message: 'at most 20 characters' }]);
          }
          const key = req.headers['idempotency-key'] as string | undefined;
          if (key) {
            const prior = this.idempotency.get(key);
            if (prior && prior.body !== raw) return fail(422, 'idempotency.keyReused', 'this Idempotency-Key was already used with a different request body');
            if (prior) return send(201, prior.response, { 'idempotent-replayed': 'true' });
          }
          const now = new Date().toISOString();
          const slug =
            input.slug ??
            String(input.title)
              .toLowerCase()
              .replace(/[^a-z0-9]+/g, '-')
              .replace(/^-|-$/g, '');
          if (this.articles.some((a) => a.slug === slug)) return fail(409, 'article.slugTaken', `the slug "${slug}" belongs to another article`);
          const article: StoredArticle = {
            ...input,
            slug,
            version: 1,
            title: String(input.title),
            id: `a${++this.counter}`,
            url: input.url ?? `https://news.example/${slug}`,
            status: input.status ?? 'draft',
            createdAt: now,
            updatedAt: now,
          };
          if (article.status === 'published') article.publishedAt = input.publishAt ?? now;
          this.articles.unshift(article);
          if (key) this.idempotency.set(key, { body: raw, response: article });
          return send(201, article, { location: `/api/articles/${article.id}` });
        }
        if (req.method === 'GET' && !id && u.searchParams.has('slug')) {
          return send(200, { items: this.articles.filter((a) => a.slug === u.searchParams.get('slug')), next: null });
        }
        if (req.method === 'GET' && !id) {
          const status = u.searchParams.get('status');
          const limit = Number(u.searchParams.get('limit') ?? 20);
          const start = Number(u.searchParams.get('cursor')?.replace('c', '') ?? 0);
          const all = this.articles.filter((a) => !status || a.status === status);
          const size = Math.min(limit, this.pageSize);
          const items = all.slice(start, start + size);
          return send(200, { items, next: start + size < all.length ? `c${start + size}` : null });
        }
        const article = this.articles.find((a) => a.id === id);
        if (!article) return fail(404, 'article.notFound', `no article with id ${id}`);
        if (req.method === 'PUT') {
          const input = json as Record<string, any>;
          const { id: keep, slug, createdAt, url, publishedAt, version } = article;
          const same = JSON.stringify({ ...article, ...input }) === JSON.stringify(article);
          for (const k of Object.keys(article)) delete article[k];
          Object.assign(article, input, { id: keep, slug, createdAt, url: input.url ?? url, publishedAt, updatedAt: new Date().toISOString() });
          article.version = Number(version ?? 1) + (same ? 0 : 1);
          return send(200, article);
        }
        if (req.method === 'PATCH') {
          Object.assign(article, json, { updatedAt: new Date().toISOString() });
          return send(200, article);
        }
        if (req.method === 'DELETE') {
          this.articles = this.articles.filter((a) => a !== article);
          return send(204);
        }
        return fail(404, 'route.notFound', 'no such route');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.requests = [];
    this.articles = [];
    this.idempotency.clear();
    this.counter = 0;
    this.pageSize = 2;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }
}

// ---------------------------------------------------------------------------------------------

const api = new FakeApi();
let dir: string;

beforeAll(async () => {
  await api.start();
  dir = await mkdtemp(join(tmpdir(), 'inkwire-cli-'));
});
afterAll(async () => {
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => api.reset());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(
  argv: string[],
  env: Record<string, string | undefined> = { INKWIRE_URL: api.url, INKWIRE_API_KEY: KEY },
  fetchFn: CliIo['fetch'] = globalThis.fetch,
): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    fetch: fetchFn,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    readFile: (p) => readFile(p, 'utf8'),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

async function file(name: string, content: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function onlyPost(): Recorded {
  const posts = api.requests.filter((r) => r.method === 'POST');
  expect(posts).toHaveLength(1);
  return posts[0]!;
}

describe('inkwire publish', () => {
  it('publishes the plain-text archive sample as Markdown with its date', async () => {
    const r = await cli(['publish', SAMPLE_TXT]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const post = onlyPost();
    expect(post.path).toBe('/api/articles');
    expect(post.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(post.headers['content-type']).toBe('application/json');
    const expected = parsePlainTextArticle(await readFile(SAMPLE_TXT, 'utf8'));
    expect(post.json).toEqual({
      title: 'U.S. Led Drone Strike Kills Iranian-Backed Militia Leader',
      body: expected.bodyMarkdown,
      bodyFormat: 'markdown',
      slug: 'us-drone-strike-baghdad',
      status: 'published',
      publishAt: '2024-02-11T00:00:00Z',
    });
    expect(post.json.body).toContain('## A Call for Stability and Sovereignty');
    expect(post.json.body).not.toContain('Leave a Reply');
    expect(post.headers['idempotency-key']).toBe(`inkwire-cli-${sha256(post.rawBody)}`);
    expect(r.stdout).toBe('Published a1\nhttps://news.example/us-drone-strike-baghdad\n');
    // It first looked for the article this file made before, by the slug its name gives.
    expect([api.requests[0]!.method, api.requests[0]!.path, api.requests[0]!.query.get('slug')]).toEqual(['GET', '/api/articles', 'us-drone-strike-baghdad']);
  });

  it('updates the article a file made when it is published again, and never makes a second one', async () => {
    const first = await cli(['publish', SAMPLE_TXT, '--tag', 'iraq']);
    expect(first.code).toBe(0);
    expect(onlyPost().headers['idempotency-key']).toMatch(/^inkwire-cli-[0-9a-f]{64}$/);

    const again = await cli(['publish', SAMPLE_TXT, '--tag', 'iraq']);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('Unchanged a1 (published): the file says what the article already says\nhttps://news.example/us-drone-strike-baghdad\n');

    const edited = await cli(['publish', SAMPLE_TXT, '--tag', 'war']);
    expect(edited.stdout).toBe('Updated a1 (published)\nhttps://news.example/us-drone-strike-baghdad\n');
    const put = api.requests.filter((r) => r.method === 'PUT').at(-1)!;
    expect([put.path, put.json.tags, put.json.slug]).toEqual(['/api/articles/a1', ['war'], undefined]);
    expect(api.articles).toHaveLength(1);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('updates what a concurrent publish of the same file made when its POST finds the slug taken', async () => {
    const path = await file('race.md', '# Race\n\nText.\n');
    // Another publish got there between this one's lookup and its POST: stands in for that moment.
    api.articles.push({
      id: 'a9',
      slug: 'race',
      version: 1,
      title: 'Race',
      url: 'https://news.example/race',
      status: 'published',
      createdAt: 'x',
      updatedAt: 'x',
    });
    const hidden = api.articles.pop()!;
    const realFetch = globalThis.fetch;
    const r = await cli(['publish', path], undefined, async (input, init) => {
      if (init?.method === 'POST') api.articles.push(hidden);
      return realFetch(input, init);
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Updated a9 \(published\)\n/);
    expect(api.requests.map((q) => q.method)).toEqual(['GET', 'POST', 'GET', 'PUT']);
  });

  it('reads Markdown front matter: title, tags, summary, authors, date, url', async () => {
    const md = await file(
      'front.md',
      [
        '---',
        'title: "Budget: the numbers"',
        'tags: [politics, "city hall"]',
        'summary: What the council decided.',
        'authors:',
        '  - Jane Doe <jane@example.com>',
        '  - Sam Roe <https://sam.example>',
        'date: 2024-02-11',
        'url: https://news.example/budget',
        '# a comment',
        '---',
        '',
        'The council **approved** the budget.',
        '',
      ].join('\r\n'),
    );
    const r = await cli(['publish', md]);
    expect(r.code).toBe(0);
    expect(onlyPost().json).toEqual({
      title: 'Budget: the numbers',
      body: 'The council **approved** the budget.\n',
      bodyFormat: 'markdown',
      summary: 'What the council decided.',
      authors: [
        { name: 'Jane Doe', email: 'jane@example.com' },
        { name: 'Sam Roe', url: 'https://sam.example' },
      ],
      tags: ['politics', 'city hall'],
      url: 'https://news.example/budget',
      slug: 'front',
      status: 'published',
      publishAt: '2024-02-11T00:00:00Z',
    });
    expect(r.stdout).toBe('Published a1\nhttps://news.example/budget\n');
  });

  it('reads nested YAML front matter: authors as mappings (with publishEmail), block lists, and says where bad YAML is', async () => {
    const md = await file(
      'nested.md',
      [
        '---',
        'title: Budget night',
        'tags:',
        '  - politics',
        '  - city hall',
        'authors:',
        '  - name: Jane Doe',
        '    email: jane@example.com',
        '    publishEmail: true',
        '  - name: Sam Roe',
        '    url: https://sam.example',
        'draft: false',
        '---',
        '',
        'Text.',
        '',
      ].join('\n'),
    );
    const r = await cli(['publish', md]);
    expect(r.code, r.stderr).toBe(0);
    expect(onlyPost().json).toMatchObject({
      title: 'Budget night',
      tags: ['politics', 'city hall'],
      authors: [
        { name: 'Jane Doe', email: 'jane@example.com', publishEmail: true },
        { name: 'Sam Roe', url: 'https://sam.example' },
      ],
    });
    const bad = await file('bad.md', ['---', 'title: [unclosed', 'tags: a', '---', 'Text.', ''].join('\n'));
    const r2 = await cli(['publish', bad]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/front matter is not valid YAML \(line \d+\)/);
  });

  it('lets the command line override the file, and takes a leading "# Title" when there is no front matter', async () => {
    const md = await file('plain.md', '# From the heading\n\nBody text.\n');
    const r = await cli([
      'publish',
      md,
      '--tag',
      'a',
      '--tag',
      'b',
      '--author',
      'Jane Doe <jane@example.com>',
      '--author',
      'Anonymous',
      '--summary',
      'S',
      '--url',
      'https://x.example/p',
    ]);
    expect(r.code).toBe(0);
    expect(onlyPost().json).toEqual({
      title: 'From the heading',
      body: 'Body text.\n',
      bodyFormat: 'markdown',
      summary: 'S',
      authors: [{ name: 'Jane Doe', email: 'jane@example.com' }, { name: 'Anonymous' }],
      tags: ['a', 'b'],
      url: 'https://x.example/p',
      slug: 'plain',
      status: 'published',
    });

    api.reset();
    const fm = await file('fm.md', '---\ntitle: File title\ntags: x, y\nlayout: post\n---\nText.\n');
    const r2 = await cli(['publish', fm, '--title', 'Flag title', '--tag', 'z']);
    expect(r2.code).toBe(0);
    expect(onlyPost().json).toMatchObject({ title: 'Flag title', tags: ['z'], body: 'Text.\n' });
    expect(r2.stderr).toMatch(/warning: .*ignoring front matter field "layout"/);
  });

  it('publishes HTML with the title from <title>, the summary from the description, and only the body', async () => {
    const html = await file(
      'page.html',
      `<!doctype html><html><head><title>Tom &amp; Jerry&#8217;s day</title><meta name="description" content="A short &quot;summary&quot;"></head>
<body>
  <h1>Tom &amp; Jerry’s day</h1>
  <p>First <em>paragraph</em>.</p>
</body></html>`,
    );
    const r = await cli(['publish', html]);
    expect(r.code).toBe(0);
    expect(onlyPost().json).toEqual({
      title: 'Tom & Jerry’s day',
      body: '<p>First <em>paragraph</em>.</p>',
      bodyFormat: 'html',
      summary: 'A short "summary"',
      slug: 'page',
      status: 'published',
    });
  });

  it('takes the HTML title from the first <h1> when there is no <title>', async () => {
    const html = await file('fragment.htm', '<h1>The <b>Heading</b></h1>\n<p>Text.</p>\n');
    expect((await cli(['publish', html])).code).toBe(0);
    expect(onlyPost().json).toMatchObject({ title: 'The Heading', body: '<p>Text.</p>', bodyFormat: 'html' });
  });

  it('saves drafts and schedules', async () => {
    const draft = await cli(['publish', SAMPLE_TXT, '--draft']);
    expect(draft.code).toBe(0);
    const posts = () => api.requests.filter((q) => q.method === 'POST');
    expect(posts()[0]!.json).toMatchObject({ status: 'draft', publishAt: '2024-02-11T00:00:00Z' });
    expect(draft.stdout).toMatch(/^Saved draft a1\n/);

    const scheduled = await cli(['publish', await file('later.md', '# Later\n\nText.\n'), '--schedule', '2030-01-02T09:30:00+01:00']);
    expect(scheduled.code).toBe(0);
    expect(posts()[1]!.json).toMatchObject({ status: 'scheduled', publishAt: '2030-01-02T08:30:00.000Z', title: 'Later' });
    expect(scheduled.stdout).toMatch(/^Scheduled a2 for 2030-01-02T08:30:00.000Z\n/);

    const fmDraft = await file('draft.md', '---\ntitle: T\ndraft: true\n---\nText.\n');
    expect((await cli(['publish', fmDraft])).code).toBe(0);
    expect(posts()[2]!.json).toMatchObject({ status: 'draft' });
  });

  it('prints the article as JSON with --json', async () => {
    const r = await cli(['publish', SAMPLE_TXT, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'a1', status: 'published' });
  });
});

describe('inkwire list', () => {
  async function seed(n: number) {
    for (let i = 1; i <= n; i++) {
      const status = i % 2 ? 'published' : 'draft';
      api.articles.push({
        id: `x${i}`,
        title: `Article ${i}`,
        url: `https://news.example/${i}`,
        status,
        publishedAt: status === 'published' ? `2024-02-${String(10 + i).padStart(2, '0')}T08:00:00.000Z` : undefined,
        createdAt: '2024-01-01T00:00:00.000Z',
        updatedAt: '2024-01-02T00:00:00.000Z',
      });
    }
  }

  it('follows next cursors until the end', async () => {
    await seed(5);
    const r = await cli(['list']);
    expect(r.code).toBe(0);
    expect(api.requests.map((q) => q.query.get('cursor'))).toEqual([null, 'c2', 'c4']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+DATE\s+TITLE$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)[0])).toEqual(['x1', 'x2', 'x3', 'x4', 'x5']);
    expect(lines[1]).toMatch(/^x1\s+published\s+2024-02-11 08:00\s+Article 1$/);
  });

  it('stops at --limit, filters by --status and prints JSON', async () => {
    await seed(7);
    const r = await cli(['list', '--status', 'published', '--limit', '3', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).map((a: { id: string }) => a.id)).toEqual(['x1', 'x3', 'x5']);
    expect(api.requests.map((q) => [q.query.get('status'), q.query.get('limit'), q.query.get('cursor')])).toEqual([
      ['published', '3', null],
      ['published', '1', 'c2'],
    ]);
  });

  it('says so when there is nothing', async () => {
    expect((await cli(['list', '--status', 'scheduled'])).stdout).toBe('No scheduled articles.\n');
  });
});

describe('inkwire unpublish and delete', () => {
  it('unpublishes with PATCH status draft and deletes with DELETE', async () => {
    await cli(['publish', SAMPLE_TXT]);
    const un = await cli(['unpublish', 'a1']);
    expect(un.code).toBe(0);
    expect(un.stdout).toMatch(/^Unpublished a1/);
    const patch = api.requests.find((q) => q.method === 'PATCH')!;
    expect([patch.method, patch.path, patch.json]).toEqual(['PATCH', '/api/articles/a1', { status: 'draft' }]);
    expect(patch.headers.authorization).toBe(`Bearer ${KEY}`);

    const del = await cli(['delete', 'a1']);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe('Deleted a1.\n');
    expect([api.requests.at(-1)!.method, api.requests.at(-1)!.path]).toEqual(['DELETE', '/api/articles/a1']);
    expect(api.articles).toHaveLength(0);
  });
});

describe('errors', () => {
  it('prints API errors with their field issues and exits 1', async () => {
    const r = await cli(['publish', SAMPLE_TXT, '--tag', 'a-tag-that-is-far-too-long']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('inkwire: invalid body: tags.0: too long (request.invalid, HTTP 400 Bad Request)\n  tags.0: at most 20 characters\n');
  });

  it('does not repeat issues the message already names', async () => {
    const r = await cli(['publish', SAMPLE_TXT, '--title', 'invalid']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'inkwire: invalid body: url: must be an absolute http(s) URL; publishAt: must not be in the future (request.invalid, HTTP 400 Bad Request)\n' +
        '  publishAt: must not be in the future when status is published\n',
    );
  });

  it('explains a wrong key', async () => {
    const r = await cli(['list', '--key', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the API key is not valid \(auth.invalidKey, HTTP 401/);
    expect(r.stderr).toMatch(/--key or INKWIRE_API_KEY/);
  });

  it('reports an unknown article', async () => {
    const r = await cli(['delete', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^inkwire: no article with id nope \(article.notFound, HTTP 404/);
  });

  it('reports an answer that is not the API error shape', async () => {
    const r = await cli(['publish', SAMPLE_TXT, '--title', 'gateway']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/api\/articles failed: HTTP 502/);
    expect(r.stderr).toMatch(/502 Bad Gateway/);
  });

  it('names the URL it could not reach', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await cli(['list', '--api', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`could not reach http://127\\.0\\.0\\.1:${port}/api/articles\\?limit=100 \\(ECONNREFUSED\\)`));
  });

  it('reports an unreadable file and a file without text', async () => {
    const missing = await cli(['publish', join(dir, 'missing.md')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*missing\.md: no such file/);
    const untitled = await cli(['publish', await file('empty.txt', '\n\n')]);
    expect(untitled.code).toBe(1);
    expect(untitled.stderr).toMatch(/empty\.txt: plain-text article has no title/);
    expect(api.requests).toHaveLength(0);
  });

  it.each([
    [[], /no command given/, /usage: inkwire <publish\|list/],
    [['frobnicate'], /unknown command "frobnicate"/, /usage: inkwire </],
    [['publish'], /publish needs a file/, /usage: inkwire publish </],
    [['publish', 'a.md', 'b.md'], /publish takes one file/, /usage: inkwire publish </],
    [['publish', 'notes.docx'], /must end in \.md, \.html or \.txt/, /usage: inkwire publish </],
    [['publish', 'x.md', '--draft', '--schedule', '2030-01-01T00:00:00Z'], /either --draft or --schedule/, /usage: inkwire publish </],
    [['publish', 'x.md', '--schedule', 'tomorrow'], /--schedule "tomorrow" is not an ISO date-time/, /usage: inkwire publish </],
    [['publish', 'x.md', '--author', 'Jane <not-an-email>'], /neither an email address nor an http\(s\) URL/, /usage: inkwire publish </],
    [['publish', 'x.md', '--bogus'], /Unknown option '--bogus'/, /usage: inkwire publish </],
    [['publish', 'x.md', '--title'], /--title <value>' argument missing/, /usage: inkwire publish </],
    [['list', '--draft'], /--draft is not an option of "list"/, /usage: inkwire list /],
    [['list', '--status', 'live'], /--status must be one of draft, published, scheduled/, /usage: inkwire list /],
    [['list', '--limit', '0'], /--limit must be a whole number/, /usage: inkwire list /],
    [['unpublish'], /unpublish needs an article id/, /usage: inkwire unpublish /],
    [['list', '--api', 'ftp://x'], /must start with http/, /usage: inkwire list /],
  ])('exits 2 with a usage line for %j', async (argv, message, usage) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(usage);
    expect(api.requests).toHaveLength(0);
  });

  it('needs an API key and a title', async () => {
    const noKey = await cli(['list'], { INKWIRE_URL: api.url });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no API key: pass --key or set INKWIRE_API_KEY/);
    const untitled = await cli(['publish', await file('untitled.md', 'Just text.\n')]);
    expect(untitled.code).toBe(2);
    expect(untitled.stderr).toMatch(/untitled\.md has no title; pass --title/);
    expect(api.requests).toHaveLength(0);
  });
});

describe('configuration, help and version', () => {
  it('takes --api and --key over the environment', async () => {
    const r = await cli(['list', '--api', `${api.url}/`, '--key', KEY], { INKWIRE_URL: 'http://127.0.0.1:9', INKWIRE_API_KEY: 'other' });
    expect(r.code).toBe(0);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]!.path).toBe('/api/articles');
  });

  it('prints help and the version', async () => {
    const help = await cli(['help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage:\n {2}inkwire publish/);
    const pub = await cli(['publish', '--help'], {});
    expect(pub.code).toBe(0);
    expect(pub.stdout).toMatch(/^usage: inkwire publish/);
    expect((await cli(['help', 'list'], {})).stdout).toMatch(/^usage: inkwire list/);
    const version = await cli(['--version'], {});
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});

describe('bin/inkwire.mjs as a real process', () => {
  const run = promisify(execFile);
  const bin = join(ROOT, 'bin/inkwire.mjs');

  it('prints the version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(process.execPath, [bin, '--version'], { cwd: tmpdir() });
    expect(stdout).toBe(`${pkg.version}\n`);
  });

  it('publishes a file and exits with the right codes', async () => {
    const env = { ...process.env, INKWIRE_URL: api.url, INKWIRE_API_KEY: KEY };
    const { stdout } = await run(process.execPath, [bin, 'publish', SAMPLE_TXT], { cwd: tmpdir(), env });
    expect(stdout).toMatch(/^Published a1\n/);
    expect(onlyPost().json.title).toBe('U.S. Led Drone Strike Kills Iranian-Backed Militia Leader');

    const usage = await run(process.execPath, [bin, 'frobnicate'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command/) });
    const failed = await run(process.execPath, [bin, 'delete', 'nope'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringMatching(/article.notFound/) });
  });
});
