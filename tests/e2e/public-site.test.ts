/**
 * The public site as a reader meets it, on the local runtime with Inkwire as the site (SITE_URL unset):
 * every link from `/`, in the feeds and in a sent digest answers 200; every page type is valid HTML (the
 * W3C Nu HTML Checker); axe-core finds no accessibility violation at phone and desktop sizes, light and
 * dark; pages are light and need no script; an unpublished article's page and links are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';
import { parsePlainTextArticle } from '../../lambdas/core/articles/plain-text.ts';
import { listOutbox, readOutboxMessage } from '../../lambdas/local/outbox-store.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';

// The callbacks given to page.evaluate run in the page; the project compiles without the DOM library.
declare const document: any;
declare const axe: any;

const VNU_JAR = 'node_modules/vnu-jar/build/dist/vnu.jar';
const AXE_SCRIPT = 'node_modules/axe-core/axe.min.js';

let rt: TestRuntime;
let browser: Browser;
const ids: Record<string, string> = {};
const slugs: Record<string, string> = {};

async function publish(key: string, input: Record<string, unknown>): Promise<void> {
  const res = await rt.api('/api/articles', { method: 'POST', json: { status: 'published', ...input } });
  expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
  const body = await res.json();
  ids[key] = body.id;
  slugs[key] = body.slug;
}

beforeAll(async () => {
  [rt, browser] = await Promise.all([
    // No SITE_URL: the local runtime's own address is the site, and its pages are on by default.
    startTestRuntime({ SITE_URL: '', SITE_FOOTER_TEXT: 'Thin Line News is an independent newsroom.' }),
    launchChromium(),
  ]);
  const fixture = parsePlainTextArticle(await readFile('tests/fixtures/articles/2024-02-11-us-drone-strike-baghdad.txt', 'utf8'));
  await publish('feature', {
    title: fixture.title,
    body: fixture.bodyMarkdown,
    tags: ['Middle East', 'Politics'],
    authors: [{ name: 'Jane Doe', url: 'https://example.org/jane' }],
    publishAt: '2024-02-11T09:00:00Z',
  });
  // Enough older articles for the list pages to paginate, across two months.
  for (let i = 0; i < 14; i++) {
    await publish(`old${i}`, {
      title: `Council notes ${i}: the budget & the <b>bridge</b>`,
      body: `Minutes of meeting ${i}.\n\nThe council met and *decided*.`,
      tags: [i % 2 ? 'Local' : 'Politics'],
      authors: [{ name: i % 3 ? 'Jane Doe' : 'Sam Writer' }],
      publishAt: new Date(Date.UTC(2024, 1, 5) - i * 3 * 86_400_000).toISOString(),
    });
  }
  await publish('ephemeral', { title: 'A story that will be withdrawn', body: 'Soon gone.', tags: ['Ephemeral'], publishAt: '2024-02-08T09:00:00Z' });
  await publish('deleted', { title: 'A story that will be deleted', body: 'Soon deleted.', tags: ['Politics'], publishAt: '2024-02-07T09:00:00Z' });
  await publish('fresh', { title: 'Today’s news', body: 'Fresh **news** today.', tags: ['Local'], authors: [{ name: 'Sam Writer' }] });
  await rt.settled();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rt?.cleanup();
});

const pagePath = (key: string) => `/articles/${slugs[key]}/`;

/** The HTML of the first message in the outbox to this address. */
async function digestHtml(address: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { entries } = await listOutbox(rt.outboxDir, { limit: 100 });
    for (const e of entries) {
      const message = await readOutboxMessage(rt.outboxDir, e.messageId);
      const parsed = message && parseMessage(message.raw);
      if (parsed?.header('to')?.includes(address)) return parsed.html!;
    }
    if (Date.now() > deadline) throw new Error(`no message to ${address} in the outbox`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the public site', () => {
  it('answers `/` and every article address with its page', async () => {
    const home = await rt.get('/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await home.text();
    expect(html).toContain('<h1>Thin Line News</h1>');
    expect(html).toContain(pagePath('fresh'));
    expect(html).toContain('href="/archive/"');
    expect(html).toContain('<p>Thin Line News is an independent newsroom.</p>');
    const article = await rt.get(pagePath('feature'));
    expect(article.status).toBe(200);
    expect(await article.text()).toContain('"@type":"NewsArticle"');
    // The address the feeds give for an article is its page.
    const feed = await (await rt.get('/feed.json')).json();
    expect(feed.items.map((i: { url: string }) => i.url)).toContain(`${rt.url}${pagePath('feature')}`);
  });

  it('removes an unpublished and a deleted article\u2019s page and every link to it', async () => {
    expect((await rt.get(pagePath('ephemeral'))).status).toBe(200);
    expect((await rt.get(pagePath('deleted'))).status).toBe(200);
    expect((await rt.get('/tags/ephemeral/')).status).toBe(200);
    expect((await rt.api(`/api/articles/${ids.ephemeral}`, { method: 'PATCH', json: { status: 'draft' } })).status).toBe(200);
    expect((await rt.api(`/api/articles/${ids.deleted}`, { method: 'DELETE' })).status).toBe(204);
    await rt.settled();
    for (const path of [pagePath('ephemeral'), pagePath('deleted'), '/tags/ephemeral/']) {
      const res = await rt.get(path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toContain('Page not found');
    }
    for (const path of ['/', '/page/2024-02/', '/tags/politics/', '/sitemaps/2024-02.xml', pagePath('feature')]) {
      const text = await (await rt.get(path)).text();
      expect(text, path).not.toContain(slugs.ephemeral);
      expect(text, path).not.toContain(slugs.deleted);
    }
  });

  it('serves the 404 page for unknown paths and keeps JSON errors under /api', async () => {
    const page = await rt.get('/no/such/page');
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<meta name="robots" content="noindex">');
    const api = await rt.api('/api/no-such-thing');
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await api.json()).error.code).toBe('route.notFound');
    const bare = await fetch(`${rt.url}${pagePath('feature').slice(0, -1)}`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe(pagePath('feature'));
  });

  /** Every page found by following links from `/`, the feeds and the sitemap, with its body. */
  const pages = new Map<string, string>();

  it('has no dead link: from `/`, in the feeds, in the sitemap and in a sent digest, every link answers 200', async () => {
    const origin = new URL(rt.url).origin;
    const queue = ['/', '/sitemap.xml', '/robots.txt'];
    const seen = new Set(queue);
    const dead: string[] = [];
    const from = new Map<string, string>();
    const add = (href: string, base: string) => {
      let url: URL;
      try {
        url = new URL(href.replace(/&amp;/g, '&'), origin + base);
      } catch {
        return;
      }
      if (url.origin !== origin) return;
      const path = url.pathname + url.search;
      if (seen.has(path)) return;
      seen.add(path);
      from.set(path, base);
      queue.push(path);
    };
    while (queue.length) {
      const path = queue.shift()!;
      const res = await fetch(origin + path, { redirect: 'manual' });
      if (res.status !== 200) {
        dead.push(`${path} (${res.status}, linked from ${from.get(path)})`);
        continue;
      }
      const type = res.headers.get('content-type') ?? '';
      const text = await res.text();
      if (type.startsWith('text/html')) {
        if (!path.startsWith('/api/')) pages.set(path, text);
        for (const m of text.matchAll(/\s(?:href|src)="([^"]+)"/g)) add(m[1]!, path);
        // A form is followed as a reader would open it: its page must exist (GET).
        for (const m of text.matchAll(/<form[^>]*\saction="([^"]+)"/g)) add(m[1]!, path);
      } else if (/xml|json|text\/plain/.test(type)) {
        for (const m of text.matchAll(/https?:\/\/[^\s"'<>\\]+/g)) add(m[0], path);
      }
    }
    // A digest as it goes out to a confirmed subscriber; its links too (unsubscribe and preferences included).
    const imported = await rt.api('/api/subscribers/import?consent=confirmed', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'email,name,frequency,topics\ndaily-reader@example.org,Dee,daily,\n',
    });
    expect(imported.status).toBe(200);
    // A digest carries what was published since the subscriber joined.
    await publish('digested', { title: 'Evening briefing', body: 'What happened today.', tags: ['Local'] });
    await rt.settled();
    const sent = await rt.api('/api/sends', { method: 'POST', json: { kind: 'digest', frequency: 'daily' } });
    expect(sent.status).toBe(202);
    const html = await digestHtml('daily-reader@example.org');
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    expect(links).toContain(`${rt.url}${pagePath('digested')}`);
    expect(links.some((l) => l.startsWith(`${rt.url}/unsubscribe?`))).toBe(true);
    for (const link of links) {
      if (!link.startsWith(origin)) continue;
      const res = await fetch(link, { redirect: 'manual' });
      if (res.status !== 200) dead.push(`${link} (${res.status}, in the digest)`);
    }
    expect(dead).toEqual([]);
    // The crawl reached every kind of page.
    for (const path of [
      '/',
      '/page/2024-01/',
      pagePath('feature'),
      '/tags/politics/',
      '/tags/',
      '/authors/jane-doe/',
      '/authors/jane-doe/page/2024-02/',
      '/archive/',
    ]) {
      expect(pages.has(path), path).toBe(true);
    }
    expect(seen.has('/tags/politics/feed.xml')).toBe(true);
    expect(seen.has('/sitemaps/2024-01.xml')).toBe(true);
  }, 120_000);

  it('is valid HTML under the W3C Nu HTML Checker, every page type', async () => {
    expect(pages.size).toBeGreaterThan(20);
    const dir = await mkdtemp(join(tmpdir(), 'inkwire-vnu-'));
    try {
      const files: string[] = [];
      const all = new Map(pages);
      all.set('/404.html', await (await rt.get('/no/such/page')).text());
      // The digest sent above has its page in the newsletter archive once its send completed.
      await rt.settled();
      const archive = await rt.waitFor('/archive/', (t) => /href="\/archive\/[A-Za-z0-9]+\/"/.test(t), 30_000);
      const digest = /href="(\/archive\/[A-Za-z0-9]+\/)"/.exec(archive)![1]!;
      all.set('/archive/', archive);
      all.set(digest, await (await rt.get(digest)).text());
      const control = join(dir, 'control.html');
      await writeFile(control, '<!doctype html><html lang="en"><head><title>x</title></head><body><p><div>unclosed</p></body></html>');
      files.push(control);
      let i = 0;
      for (const [path, body] of all) {
        const file = join(dir, `${i++}-${path.replace(/[^a-z0-9]+/gi, '_')}.html`);
        await writeFile(file, body);
        files.push(file);
      }
      const { stdout } = await promisify(execFile)('java', ['-jar', VNU_JAR, '--format', 'json', '--stdout', ...files], { maxBuffer: 64 * 1024 * 1024 }).catch(
        (e: { stdout: string }) => ({ stdout: e.stdout }),
      );
      const messages = (JSON.parse(stdout) as { messages: { type: string; subType?: string; url: string; message: string; extract?: string }[] }).messages;
      const errors = messages
        .filter((m) => m.type === 'error' || m.subType === 'fatal')
        .map((m) => `${m.url.slice(m.url.lastIndexOf('/') + 1)}: ${m.message} ${m.extract ?? ''}`);
      // The control page proves the checker read the files: its error, and nothing else.
      expect(errors.filter((e) => e.startsWith('control.html'))).not.toEqual([]);
      expect(errors.filter((e) => !e.startsWith('control.html'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('passes axe-core on the home, an article, a tag page and the 404 page, phone and desktop, light and dark', async () => {
    const axeSource = await readFile(AXE_SCRIPT, 'utf8');
    const report: string[] = [];
    for (const viewport of [
      { width: 320, height: 640 },
      { width: 1280, height: 800 },
    ]) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const context = await browser.newContext({ viewport, colorScheme, javaScriptEnabled: true });
        const page = await context.newPage();
        for (const path of ['/', pagePath('feature'), '/tags/politics/', '/no/such/page']) {
          await page.goto(rt.url + path);
          await page.addScriptTag({ content: axeSource });
          const violations = (await page.evaluate(async () => (await axe.run(document, { resultTypes: ['violations'] })).violations)) as {
            id: string;
            nodes: { target: string[] }[];
          }[];
          for (const v of violations)
            report.push(`${path} ${viewport.width}px ${colorScheme}: ${v.id} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
          // Readable at 320 px: nothing scrolls sideways.
          const overflow = (await page.evaluate(() => document.documentElement.scrollWidth)) as number;
          if (overflow > viewport.width) report.push(`${path} ${viewport.width}px: ${overflow}px wide`);
        }
        await context.close();
      }
    }
    expect(report).toEqual([]);
  }, 120_000);

  it('is light: home and article under 30 KB, with no script to run and no stylesheet to wait for', async () => {
    for (const path of ['/', pagePath('feature')]) {
      const body = await (await rt.get(path)).text();
      const bytes = Buffer.byteLength(body);
      expect(bytes, path).toBeLessThan(30 * 1024);
      expect(gzipSync(body).length, path).toBeLessThan(30 * 1024);
      const scripts = [...body.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
      expect(
        scripts.every((attrs) => attrs === ' type="application/ld+json"'),
        path,
      ).toBe(true);
      expect(body).not.toMatch(/<link[^>]+rel="stylesheet"/);
    }
  });

  it('renders the API reference (its script escapes with the shared escaper)', async () => {
    const page = await browser.newPage();
    await page.goto(`${rt.url}/api/docs`);
    await page.waitForSelector('#ops h2');
    expect(await page.locator('#ops details').count()).toBeGreaterThan(10);
    await page.close();
  });

  it('subscribes a reader with the page\u2019s own form, without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(rt.url + pagePath('feature'));
    await page.fill('#subscribe-email', 'site-reader@example.org');
    await Promise.all([page.waitForURL(/\/subscribe\/check-inbox$/), page.click('form.subscribe button[type=submit]')]);
    expect(await page.textContent('h1')).toMatch(/inbox/i);
    await context.close();
  });
});
