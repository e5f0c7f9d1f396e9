import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { linkIn, startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';

// The callbacks given to page.evaluate run in the page; the project compiles without the DOM library.
declare const document: any;
type Field = { name: string; labels: { length: number } | null };
type Focusable = { id: string; name?: string; textContent: string | null; tagName: string; blur(): void };

let h: SubscriberHarness;
let browser: Browser;

beforeAll(async () => {
  [h, browser] = await Promise.all([
    startSubscriberHarness({ limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } } }),
    launchChromium(),
  ]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.stop();
});

const find = (email: string) => h.repo.findByEmailHash(emailHash(email));

/** What a page must have whatever it shows: language, viewport, one h1, a label for every field, no sideways scrolling on a narrow phone. */
async function checkPage(page: Page) {
  const facts = await page.evaluate(() => {
    const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')] as Field[];
    return {
      lang: document.documentElement.lang,
      viewport: document.querySelector('meta[name=viewport]')?.getAttribute('content') ?? '',
      h1: document.querySelectorAll('h1').length,
      unlabelled: fields.filter((f) => f.labels === null || f.labels.length === 0).map((f) => f.name),
      unnamedButtons: ([...document.querySelectorAll('button')] as Focusable[]).filter((b) => !b.textContent?.trim()).length,
      scripts: document.querySelectorAll('script').length,
    };
  });
  expect(facts.lang).toBe('en-US');
  expect(facts.viewport).toContain('width=device-width');
  expect(facts.h1).toBe(1);
  expect(facts.unlabelled).toEqual([]);
  expect(facts.unnamedButtons).toBe(0);
  expect(facts.scripts).toBe(0);
  const width = page.viewportSize()!.width;
  expect(await page.evaluate(() => document.documentElement.scrollWidth as number)).toBeLessThanOrEqual(width);
}

/** The id (or name, or text) of each element that takes focus as Tab is pressed from the top. */
async function tabOrder(page: Page, presses: number): Promise<string[]> {
  await page.evaluate(() => (document.activeElement as Focusable | null)?.blur());
  const order: string[] = [];
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    order.push(
      await page.evaluate(() => {
        const el = document.activeElement as Focusable;
        return el.id || el.name || el.textContent?.trim() || el.tagName;
      }),
    );
  }
  return order;
}

describe('subscriber pages in Chromium', () => {
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // A phone-sized window with JavaScript off: every step works with the HTML alone.
    context = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 360, height: 740 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
  });

  it('subscribe: a labelled form in a sensible focus order, then a "check your inbox" page', async () => {
    await page.goto(`${h.url}/subscribe`);
    await checkPage(page);
    expect(await tabOrder(page, 8)).toEqual([
      'Skip to content',
      'Thin Line News',
      'email',
      'name',
      'frequency-weekly',
      'topic-politics',
      'topic-science',
      'Subscribe',
    ]);

    await page.getByLabel('Email address').fill('not an address');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await expect.poll(() => page.locator('#email-error').textContent()).toContain('must be an email address');
    expect(await page.getByLabel('Email address').getAttribute('aria-invalid')).toBe('true');
    await checkPage(page);

    await page.getByLabel('Email address').fill('reader@example.org');
    await page.getByLabel(/^Name/).fill('Rita Reader');
    await page.getByLabel('A daily digest').check();
    await page.getByLabel('Science').check();
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.waitForURL(`${h.url}/subscribe/check-inbox`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Check your inbox');
    await checkPage(page);
    expect(await find('reader@example.org')).toMatchObject({ status: 'pending', name: 'Rita Reader', frequency: 'daily', topics: ['science'] });
  });

  it('confirm: opening the link confirms nothing; pressing the button does', async () => {
    const mail = await h.waitForMail('reader@example.org');
    await page.goto(linkIn(mail.text, `${h.url}/confirm?token=`));
    await checkPage(page);
    expect((await find('reader@example.org'))!.status).toBe('pending');
    await page.getByRole('button', { name: 'Confirm my subscription' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('You are subscribed');
    await checkPage(page);
    expect((await find('reader@example.org'))!.status).toBe('confirmed');
  });

  it('preferences: frequency, topics and pause apply at once', async () => {
    const welcome = await h.waitForMail('reader@example.org', 2);
    await page.goto(linkIn(welcome.text, `${h.url}/preferences?token=`));
    await checkPage(page);
    expect(await page.getByLabel('A daily digest').isChecked()).toBe(true);
    expect(await page.getByLabel('Science').isChecked()).toBe(true);

    await page.getByLabel('A weekly digest').check();
    await page.getByLabel('Science').uncheck();
    await page.getByLabel('Politics').check();
    expect(await page.getByLabel('Other topics').count()).toBe(0);
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('saved');
    expect(await find('reader@example.org')).toMatchObject({ frequency: 'weekly', topics: ['politics'], paused: false });
    expect(await page.getByLabel('Politics').isChecked()).toBe(true);

    await page.getByLabel('Pause all email for now').check();
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await expect.poll(async () => (await find('reader@example.org'))!.paused).toBe(true);
    await page.getByLabel('Pause all email for now').uncheck();
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await expect.poll(async () => (await find('reader@example.org'))!.paused).toBe(false);
    await checkPage(page);
  });

  it('unsubscribe: the link shows one button, which unsubscribes; the preference page can undo it', async () => {
    const welcome = await h.waitForMail('reader@example.org', 2);
    await page.goto(linkIn(welcome.text, `${h.url}/unsubscribe?token=`));
    await checkPage(page);
    expect(await page.getByRole('button').count()).toBe(1);
    expect((await find('reader@example.org'))!.status).toBe('confirmed');
    expect(await page.locator('main, body').first().textContent()).toContain('reader@example.org');
    await page.getByRole('button', { name: 'Unsubscribe' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('You are unsubscribed');
    expect(await page.getByRole('status').first().textContent()).toContain('reader@example.org will not receive any more email');
    await checkPage(page);
    expect((await find('reader@example.org'))!.status).toBe('unsubscribed');

    await page.getByRole('link', { name: /Subscribe again/ }).click();
    await page.getByRole('button', { name: 'Subscribe again' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Welcome back');
    expect((await find('reader@example.org'))!.status).toBe('confirmed');
  });

  it('unsubscribe from the preference page button', async () => {
    const welcome = await h.waitForMail('reader@example.org', 2);
    await page.goto(linkIn(welcome.text, `${h.url}/preferences?token=`));
    await page.getByRole('button', { name: 'Unsubscribe from all email' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('You are unsubscribed');
    expect((await find('reader@example.org'))!.status).toBe('unsubscribed');
  });

  it('RFC 8058 one-click: a POST of List-Unsubscribe=One-Click to the List-Unsubscribe URL unsubscribes with no page to press', async () => {
    // Subscribe and confirm a second reader, then do what a mail client does with the header.
    await page.goto(`${h.url}/subscribe`);
    await page.getByLabel('Email address').fill('oneclick@example.org');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.waitForURL(`${h.url}/subscribe/check-inbox`);
    await page.goto(linkIn((await h.waitForMail('oneclick@example.org')).text, `${h.url}/confirm?token=`));
    await page.getByRole('button', { name: 'Confirm my subscription' }).click();
    await expect.poll(async () => (await find('oneclick@example.org'))?.status).toBe('confirmed');
    const unsubscribeUrl = linkIn((await h.waitForMail('oneclick@example.org', 2)).text, `${h.url}/unsubscribe?token=`);
    const res = await context.request.post(unsubscribeUrl, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      data: 'List-Unsubscribe=One-Click',
      maxRedirects: 0,
    });
    expect(res.status()).toBe(200);
    expect((await find('oneclick@example.org'))!.status).toBe('unsubscribed');
  });

  it('an expired or forged link shows a readable error page', async () => {
    const res = await page.goto(`${h.url}/preferences?token=forged.token`);
    expect(res!.status()).toBe(400);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('This link does not work');
    await checkPage(page);
  });
});

describe('with JavaScript and a desktop window', () => {
  it('the subscribe form works and the layout fits', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${h.url}/subscribe`);
      await checkPage(page);
      const mainWidth = await page
        .locator('main')
        .evaluate((el) => (el as unknown as { getBoundingClientRect(): { width: number } }).getBoundingClientRect().width);
      expect(mainWidth).toBeLessThan(700);
      await page.getByLabel('Email address').fill('desktop@example.org');
      await page.getByRole('button', { name: 'Subscribe' }).click();
      await page.waitForURL(`${h.url}/subscribe/check-inbox`);
      expect((await find('desktop@example.org'))!.status).toBe('pending');
    } finally {
      await context.close();
    }
  });
});
