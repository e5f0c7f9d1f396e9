/**
 * The publisher's console in Debian's Chromium against the local runtime: sign in, publish from the
 * editor and find the article in /feed.xml, send a weekly digest to three local subscribers and watch it
 * reach "completed", find a subscriber and erase them, sign out and be refused. Every page passes axe-core
 * at 390 and 1280 px, light and dark, and the console's JavaScript stays far under 200 KB gzipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, mkdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { startTestRuntime, TEST_KEY, type TestRuntime } from '../support/runtime.ts';

// The callbacks given to page.evaluate run in the page; the project compiles without the DOM library.
declare const document: any;
declare const axe: any;

const AXE_SCRIPT = 'node_modules/axe-core/axe.min.js';
const SCREENS = process.env.CONSOLE_SCREENS_DIR;

let rt: TestRuntime;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const visited = new Set<string>();

beforeAll(async () => {
  [rt, browser] = await Promise.all([startTestRuntime(), launchChromium()]);
  // Three weekly subscribers, confirmed before the article is published: the digest has one article for each.
  const csv = 'email,name,frequency\nada@example.com,Ada,weekly\ngrace@example.com,Grace,weekly\nkaren@example.com,Karen,weekly\n';
  const imported = await rt.api('/api/subscribers/import?consent=confirmed', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
  expect(imported.status).toBe(200);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
}, 60_000);
afterAll(async () => {
  await context?.close();
  await browser?.close();
  await rt?.cleanup();
});

const nav = (name: string) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true }).click();
const remember = () => visited.add(new URL(page.url()).pathname + new URL(page.url()).search);

describe('the console in Chromium', () => {
  it('signs in with the API key', async () => {
    await page.goto(`${rt.url}/admin/`);
    remember();
    await page.getByLabel('API key').fill('wrong key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That API key is not right.');
    await page.getByLabel('API key').fill(TEST_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.map((c) => c.name)).toEqual(['inkwire_console']);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(JSON.stringify(cookies)).not.toContain(TEST_KEY);
    // The chart library drew the growth chart.
    await page.locator('#chart canvas').waitFor();
    remember();
  });

  it('publishes an article from the editor, with a live preview, and it is in /feed.xml', async () => {
    await nav('Articles');
    remember();
    await page.getByRole('link', { name: 'New article' }).click();
    remember();
    await page.getByLabel('Title').fill('Console Dispatch');
    await page.getByLabel('Body').fill('## Live from the console\n\nWritten in the **browser**.');
    await page.getByLabel('Tags').fill('Politics');
    const preview = page.frameLocator('#article-preview');
    await preview.getByRole('heading', { name: 'Live from the console' }).waitFor();
    expect(await preview.locator('strong').first().textContent()).toBe('browser');
    // The email it would send follows the form too, before anything is saved.
    await page.frameLocator('#email-preview').getByRole('heading', { name: 'Live from the console' }).waitFor();
    expect((await rt.api('/api/articles').then((r) => r.json())).items).toEqual([]);
    await page.getByRole('button', { name: 'Publish now' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Published.');
    remember();
    // The email preview of the saved article is rendered by the API.
    await page.frameLocator('#email-preview').getByText('Live from the console').first().waitFor();
    const feed = await rt.waitFor('/feed.xml', (x) => x.includes('Console Dispatch'));
    expect(feed).toContain('<title>Console Dispatch</title>');
    await nav('Articles');
    await page.getByLabel('Search titles and tags').fill('dispatch');
    await page.getByRole('button', { name: 'Search' }).click();
    remember();
    expect(await page.getByRole('link', { name: 'Console Dispatch' }).count()).toBe(1);
  });

  it('sends a weekly digest to three subscribers and the progress reaches "completed" with the right counts', async () => {
    await nav('Sends');
    remember();
    await page.getByLabel('Digest: each subscriber’s new articles since their last one').check();
    await page.getByLabel('Audience (frequency)').selectOption('weekly');
    await page.getByRole('button', { name: 'Dry run (count the audience)' }).click();
    await page.locator('[data-field=status]', { hasText: 'completed' }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('(dry run)');
    expect(await page.locator('[data-count=planned]').textContent()).toBe('3');

    await nav('Sends');
    await page.getByLabel('Digest: each subscriber’s new articles since their last one').check();
    await page.getByLabel('Audience (frequency)').selectOption('weekly');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForURL(/\/admin\/sends\/[a-z0-9-]+$/);
    remember();
    await page.locator('[data-field=status]', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-count=planned]').textContent()).toBe('3');
    expect(await page.locator('[data-count=submitted]').textContent()).toBe('3');
    expect(await page.locator('[data-count=failed]').textContent()).toBe('0');
    expect(await page.locator('[data-count=uncertain]').textContent()).toBe('0');
    expect(await page.locator('progress').getAttribute('value')).toBe('100');
    expect(await page.getByRole('heading', { name: 'Delivery outcomes (reported by SES)' }).count()).toBe(1);
  });

  it('finds a subscriber by email, shows what was sent to them, and erases them', async () => {
    await nav('Subscribers');
    remember();
    await page.getByLabel('Find by email').fill('Grace@Example.com');
    await page.getByRole('button', { name: 'Find' }).click();
    remember();
    await page.getByRole('link', { name: 'grace@example.com' }).click();
    remember();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('grace@example.com');
    // The digest is in their history, submitted.
    expect(await page.getByRole('region', { name: 'Send history' }).textContent()).toMatch(/digest[\s\S]*submitted/);
    await page.getByRole('button', { name: 'Erase subscriber' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Erased.');
    await page.getByLabel('Find by email').fill('grace@example.com');
    await page.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Nobody has the address grace@example.com.');
    const api = await (await rt.api('/api/subscribers?email=grace@example.com')).json();
    expect(api.items).toEqual([]);
    // Another subscriber's page, for the accessibility pass below.
    await page.getByLabel('Find by email').fill('ada@example.com');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('link', { name: 'ada@example.com' }).click();
    remember();
  });

  it('exports the subscribers as a job and links the file when it is done', async () => {
    await nav('Subscribers');
    await page.getByRole('button', { name: 'Export' }).click();
    await page.waitForURL(/\/admin\/jobs\/exports\//);
    await page.getByRole('link', { name: 'Download the CSV' }).waitFor({ timeout: 20_000 });
    remember();
    const csv = await (await fetch(new URL((await page.getByRole('link', { name: 'Download the CSV' }).getAttribute('href'))!, rt.url))).text();
    expect(csv).toContain('ada@example.com');
    expect(csv).not.toContain('grace@example.com');
  });

  it('shows the settings: site, mail, quota and DNS records', async () => {
    await nav('Settings');
    remember();
    expect(await page.getByRole('heading', { name: 'SES sending quota' }).count()).toBe(1);
    expect(await page.locator('main').textContent()).toMatch(/sent in the last 24 hours/);
    for (const purpose of ['SPF', 'DKIM', 'DMARC', 'MAIL FROM'])
      expect(await page.getByRole('heading', { level: 3, name: new RegExp(`^${purpose}: `) }).count(), purpose).toBeGreaterThan(0);
  });

  it('passes axe-core on every page visited, at 390 and 1280 px, light and dark, with nothing scrolling sideways', async () => {
    const axeSource = await readFile(AXE_SCRIPT, 'utf8');
    const cookies = await context.cookies();
    const report: string[] = [];
    if (SCREENS) await mkdir(SCREENS, { recursive: true });
    const paths = [...visited];
    expect(paths.length).toBeGreaterThanOrEqual(9);
    for (const viewport of [
      { width: 390, height: 844 },
      { width: 1280, height: 900 },
    ]) {
      for (const colorScheme of ['light', 'dark'] as const) {
        // bypassCSP: the console's policy forbids inline scripts, and axe is added as one.
        const ctx = await browser.newContext({ viewport, colorScheme, bypassCSP: true });
        await ctx.addCookies(cookies);
        const p = await ctx.newPage();
        for (const path of [...paths, '/admin/?signed-out']) {
          if (path === '/admin/?signed-out') await ctx.clearCookies();
          await p.goto(rt.url + path);
          await p.addScriptTag({ content: axeSource });
          const { violations, passed } = (await p.evaluate(async () => {
            const r = await axe.run(document, { resultTypes: ['violations'] });
            return { violations: r.violations, passed: r.passes.length };
          })) as { violations: { id: string; nodes: { target: string[] }[] }[]; passed: number };
          // axe really ran its rules on the page (contrast, labels, landmarks...).
          if (passed < 10) report.push(`${path}: axe ran only ${passed} rules`);
          for (const v of violations)
            report.push(`${path} ${viewport.width}px ${colorScheme}: ${v.id} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
          const wide = (await p.evaluate(() => document.documentElement.scrollWidth)) as number;
          if (wide > viewport.width) report.push(`${path} ${viewport.width}px: ${wide}px wide`);
          if (SCREENS) await p.screenshot({ path: `${SCREENS}/${path.replace(/[^a-z0-9]+/gi, '_')}-${viewport.width}-${colorScheme}.png`, fullPage: true });
        }
        await ctx.close();
      }
    }
    expect(report).toEqual([]);
  }, 300_000);

  it('keeps its JavaScript light: under 200 KB gzipped for the whole console', async () => {
    let total = 0;
    for (const name of ['console.js', 'uplot.js']) {
      const res = await rt.get(`/admin/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type'), name).toMatch(/^text\/javascript/);
      total += gzipSync(Buffer.from(await res.arrayBuffer())).length;
    }
    expect(total).toBeLessThan(200 * 1024);
    // And no page loads a script the console does not serve itself.
    const html = await page.content();
    const srcs = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs.every((s) => s!.startsWith('/admin/assets/'))).toBe(true);
  });

  it('is usable from the keyboard: sign in and reach every section with Tab and Enter alone', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const p = await ctx.newPage();
    const focused = () => p.evaluate(() => (document.activeElement.id || document.activeElement.textContent || '').trim());
    await p.goto(`${rt.url}/admin/`);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await p.keyboard.press('Tab');
      order.push(await focused());
    }
    expect(order).toEqual(['Skip to content', 'Thin Line News · console', 'key', 'Sign in']);
    await p.keyboard.press('Shift+Tab');
    await p.keyboard.type(TEST_KEY);
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    const nav: string[] = [];
    for (let i = 0; i < 8; i++) {
      await p.keyboard.press('Tab');
      nav.push(await focused());
    }
    expect(nav).toEqual(['Skip to content', 'Thin Line News · console', 'Dashboard', 'Articles', 'Subscribers', 'Sends', 'Settings', 'Sign out']);
    await p.keyboard.press('Shift+Tab');
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    await ctx.close();
  });

  it('signs out, and is refused afterwards', async () => {
    const before = await context.cookies();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('You are signed out.');
    expect(await context.cookies()).toEqual([]);
    await page.goto(`${rt.url}/admin/sends`);
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    const res = await page.request.get(`${rt.url}/admin/settings`, { maxRedirects: 0 });
    expect(res.status()).toBe(303);
    // The cookie as it was before signing out is refused as well.
    const replay = await browser.newContext();
    await replay.addCookies(before);
    const again = await replay.request.get(`${rt.url}/admin/settings`, { maxRedirects: 0 });
    expect(again.status()).toBe(303);
    expect(again.headers().location).toBe('/admin/');
    await replay.close();
  });
});
