import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../lambdas/local/dynamodb-local.ts';
import { parsePlainTextArticle } from '../../lambdas/core/articles/plain-text.ts';
import { parseWithFeedparser, validateAtomWithSchema, validateJsonFeed11 } from '../support/feed-validators.ts';

const run = promisify(execFile);
const SAMPLE = new URL('../fixtures/articles/2024-02-11-us-drone-strike-baghdad.txt', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  url: string;
  key: string;
  output: () => string;
}

/** `npm start`'s entry point, as a real process, on a free port, with nothing but DATA_DIR and PORT set. */
async function start(dataDir: string, port: number): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lambdas/local/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      INKWIRE_API_KEY: '',
      SITE_URL: '',
      PUBLIC_URL: '',
      DIGEST_DAILY_AT: 'off',
      DIGEST_WEEKLY_AT: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 90_000;
  while (!/API key\s+(\S+)/.test(out)) {
    if (child.exitCode !== null) throw new Error(`runtime exited:\n${out}`);
    if (Date.now() > deadline) throw new Error(`runtime did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://localhost:${port}`;
  expect((await fetch(`${url}/health`)).status).toBe(200);
  return { child, url, key: /API key\s+(\S+)/.exec(out)![1]!, output: () => out };
}

async function stop(s: Started) {
  s.child.kill('SIGTERM');
  await new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once('exit', r)));
}

async function waitFor(url: string, check: (t: string) => boolean, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await fetch(url);
    const text = await res.text();
    if (res.ok && check(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out on ${url}: ${text.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The first .eml file under the outbox folder (that passes `match`). */
async function findEml(dir: string, match: (text: string) => boolean = () => true): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  for (const entry of await readdir(dir, { recursive: true })) {
    if (!String(entry).endsWith('.eml')) continue;
    const text = await readFile(join(dir, String(entry)), 'utf8');
    if (match(text)) return text;
  }
  throw new Error(`no .eml under ${dir}`);
}

let dataDir: string;
let port: number;
let rt: Started;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inkwire-e2e-'));
  port = await freePort();
  rt = await start(dataDir, port);
}, 120_000);
afterAll(async () => {
  if (rt) await stop(rt);
  await rm(dataDir, { recursive: true, force: true });
});

const expectSampleText = (text: string) => {
  expect(text).toContain('Wissam Mohammed “Abu Bakr” al-Saadi');
  expect(text).toContain('Iraq’s determination');
  expect(text).toContain('U.S. Led Drone Strike Kills Iranian-Backed Militia Leader');
};

describe('the local runtime, end to end', () => {
  it('prints what a newcomer needs: feed URLs, API docs, the console, an API key', () => {
    const out = rt.output();
    expect(out).toContain(`${rt.url}/feed.xml`);
    expect(out).toContain(`${rt.url}/api/docs`);
    expect(out).toMatch(new RegExp(`^Console ${rt.url}/admin/ `, 'm'));
    expect(rt.key).toMatch(/^iw_[A-Za-z0-9_-]{20,}$/);
  });

  it('serves valid, empty site feeds before anything is published', async () => {
    const atom = await (await fetch(`${rt.url}/atom.xml`)).text();
    expect(validateAtomWithSchema(atom).errors).toEqual([]);
    expect(parseWithFeedparser(atom).entries).toHaveLength(0);
    expect(validateJsonFeed11(JSON.parse(await (await fetch(`${rt.url}/feed.json`)).text())).errors).toEqual([]);
  });

  it('publishes the sample article with the command-line tool and reads it back through a feed parser, text intact', async () => {
    const { stdout } = await run(process.execPath, [
      'bin/inkwire.mjs',
      'publish',
      SAMPLE,
      '--tag',
      'Middle East',
      '--author',
      'Thin Line Staff',
      '--api',
      rt.url,
      '--key',
      rt.key,
      '--json',
    ]);
    const article = JSON.parse(stdout);
    expect(article.status).toBe('published');
    expect(article.publishedAt).toBe('2024-02-11T00:00:00.000Z');
    for (const path of ['/atom.xml', '/feed.xml', '/tags/middle-east/atom.xml', '/authors/thin-line-staff/feed.xml']) {
      const text = await waitFor(rt.url + path, (t) => t.includes(article.id));
      const feed = parseWithFeedparser(text);
      expect(feed.bozo).toBe(false);
      const entry = feed.entries.find((e) => e.id?.endsWith(article.id))!;
      expect(entry.title).toBe('U.S. Led Drone Strike Kills Iranian-Backed Militia Leader');
      const content = entry.content.join('');
      expect(content).toContain('Wissam Mohammed “Abu Bakr” al-Saadi');
      expect(content).toContain('<h2>A Call for Stability and Sovereignty</h2>');
      expect(content).toContain('<h2>Conclusion</h2>');
      expect(content).not.toContain('Leave a Reply');
      expect(content).not.toContain('Copyright 2024, Thin Line News LLC');
      if (path.endsWith('atom.xml')) expect(validateAtomWithSchema(text).errors).toEqual([]);
    }
    const { stdout: listed } = await run(process.execPath, ['bin/inkwire.mjs', 'list', '--api', rt.url, '--key', rt.key, '--json']);
    expect(JSON.parse(listed).map((a: { id: string }) => a.id)).toContain(article.id);
  });

  it('publishes through the HTTP API as Markdown and serves it in JSON Feed 1.1', async () => {
    const { bodyMarkdown: body } = parsePlainTextArticle(await readFile(SAMPLE, 'utf8'));
    const res = await fetch(`${rt.url}/api/articles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        title: 'U.S. Led Drone Strike Kills Iranian-Backed Militia Leader — analysis',
        body: `## Background\n\n${body}`,
        status: 'published',
      }),
    });
    expect(res.status).toBe(201);
    const a = (await res.json()) as { id: string };
    const json = JSON.parse(await waitFor(`${rt.url}/feed.json`, (t) => t.includes(a.id)));
    expect(validateJsonFeed11(json).errors).toEqual([]);
    const item = json.items.find((i: { id: string }) => i.id.endsWith(a.id));
    expect(item.title).toBe('U.S. Led Drone Strike Kills Iranian-Backed Militia Leader — analysis');
    expect(item.content_html).toContain('<h2>Background</h2>');
    expectSampleText(item.content_html + item.title.replace(' — analysis', ''));
  });

  it('sends a confirmation email through the local SES endpoint when a reader subscribes, shown in the outbox', async () => {
    const res = await fetch(`${rt.url}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: rt.url },
      body: JSON.stringify({ email: 'reader@example.org', frequency: 'daily' }),
    });
    expect(res.status).toBe(202);
    const deadline = Date.now() + 10_000;
    let page = '';
    while (!page.includes('reader@example.org') && Date.now() < deadline) {
      page = await (await fetch(`${rt.url}/_dev/outbox`)).text();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(page).toContain('reader@example.org');
    const eml = await findEml(join(dataDir, 'outbox'));
    expect(eml).toMatch(/^Subject: /m);
    expect(eml).not.toMatch(/[^\r]\n/);
  });

  it('emails an instant alert to a confirmed subscriber when an article is first published', async () => {
    const imported = await fetch(`${rt.url}/api/subscribers/import?consent=confirmed`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.key}`, 'content-type': 'text/csv' },
      body: 'email,name,frequency,topics\ninstant@example.org,Ina,instant,\n',
    });
    expect(imported.status).toBe(200);
    const res = await fetch(`${rt.url}/api/articles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Breaking: alert test', body: 'Fresh *news*.', status: 'published' }),
    });
    expect(res.status).toBe(201);
    const deadline = Date.now() + 20_000;
    let eml: string | undefined;
    while (!eml && Date.now() < deadline) {
      eml = await findEml(join(dataDir, 'outbox'), (t) => /^To: .*instant@example\.org/m.test(t) && t.includes('alert test')).catch(() => undefined);
      if (!eml) await new Promise((r) => setTimeout(r, 200));
    }
    expect(eml).toBeDefined();
    expect(eml).toMatch(/^List-Unsubscribe: <http:\/\/localhost:\d+\/unsubscribe\?token=[^>]+>/m);
    expect(eml).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    expect(eml).toMatch(/^List-Id: Inkwire Local <newsletter\.localhost>\r$/im);
  });

  it('logs readable single lines, not the JSON the functions write in AWS (here: the SES events of a test send)', async () => {
    const res = await fetch(`${rt.url}/api/sends/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'confirmation', addresses: ['log-check@example.org'] }),
    });
    expect(res.status).toBe(200);
    // The local SES endpoint publishes a Send and a Delivery event for each message; the SesEvents handler logs each.
    const sesLines = () =>
      rt
        .output()
        .split('\n')
        .filter((l) => l.startsWith('ses event '));
    const deadline = Date.now() + 20_000;
    while (sesLines().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const lines = rt.output().split('\n');
    const sesEvents = sesLines();
    expect(sesEvents.length).toBeGreaterThan(0);
    for (const line of sesEvents) expect(line).toMatch(/^ses event \{ snsMessageId: '[^']+', .*\}$/);
    expect(lines.filter((l) => /^\{"(level|_aws)"/.test(l))).toEqual([]);
  });

  it('unpublishes with the command-line tool, and keeps its data and key across a restart', async () => {
    const created = await fetch(`${rt.url}/api/articles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'To be unpublished', body: 'Briefly public.', status: 'published' }),
    });
    expect(created.status).toBe(201);
    const victim = (await created.json()) as { id: string };
    await waitFor(`${rt.url}/feed.json`, (t) => t.includes(victim.id));
    const { stdout } = await run(process.execPath, ['bin/inkwire.mjs', 'list', '--status', 'published', '--api', rt.url, '--key', rt.key, '--json']);
    const before = JSON.parse(stdout) as { id: string; title: string }[];
    await run(process.execPath, ['bin/inkwire.mjs', 'unpublish', victim.id, '--api', rt.url, '--key', rt.key]);
    await waitFor(`${rt.url}/feed.json`, (t) => !t.includes(victim.id));
    const feedBefore = await (await fetch(`${rt.url}/atom.xml`)).text();
    const etagBefore = (await fetch(`${rt.url}/atom.xml`)).headers.get('etag');

    const key = rt.key;
    await stop(rt);
    rt = await start(dataDir, port);
    expect(rt.key).toBe(key);
    const res = await fetch(`${rt.url}/atom.xml`);
    expect(res.headers.get('etag')).toBe(etagBefore);
    expect(await res.text()).toBe(feedBefore);
    const { stdout: after } = await run(process.execPath, ['bin/inkwire.mjs', 'list', '--api', rt.url, '--key', rt.key, '--json']);
    expect((JSON.parse(after) as unknown[]).length).toBe(before.length);
  }, 120_000);
});
