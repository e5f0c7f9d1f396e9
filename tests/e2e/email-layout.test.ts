/**
 * Every email fits a narrow phone: rendered by the real renderer and opened in Chromium at 320 and 390 px,
 * nothing scrolls sideways (long token links, long words, wide images and code wrap or shrink).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { createEmailRenderer, type RecipientFields, type TemplateName } from '../../lambdas/core/email/templates.ts';

// The callbacks given to page.evaluate run in the page; the project compiles without the DOM library.
declare const document: any;
declare const window: any;

const templatesDir = fileURLToPath(new URL('../../templates/email/', import.meta.url));
const token = 'eyJzdWJzY3JpYmVySWQiOiIwMWhxMHo4azJtNG42cDhyMHQydjR4Nnk4eiIsInB1cnBvc2UiOiJjb25maXJtIn0.c2lnbmF0dXJlLXRoYXQtZG9lcy1ub3QtYnJlYWstYW55d2hlcmU';
const recipient: RecipientFields = {
  name: 'Maximiliana-Anastasia Featherstonehaugh-Cholmondeley',
  unsubscribeUrl: `https://news.example.com/unsubscribe?token=${token}`,
  preferencesUrl: `https://news.example.com/preferences?token=${token}`,
};
const longWord = 'Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstalt';
const article = {
  title: `${longWord} and the drone strike`,
  summary: `Summary with ${longWord}.`,
  url: `https://news.example.com/articles/${'very-long-slug-'.repeat(8)}end`,
  publishedAt: '2024-02-11T10:00:00.000Z',
  imageUrl: 'https://news.example.com/img/wide.png',
  imageAlt: 'A wide picture',
};
const fullArticle = {
  title: article.title,
  url: article.url,
  summary: article.summary,
  byline: 'By Jane Doe',
  publishedAt: article.publishedAt,
  contentHtml:
    `<p>Read <a href="${article.url}">${article.url}</a> and ${longWord}.</p>` +
    '<p><img src="https://news.example.com/img/wide.png" alt="Map" width="1200" height="400"></p>' +
    `<pre><code>const x = "${'a'.repeat(200)}";</code></pre>` +
    `<blockquote><p>${longWord}${longWord}</p></blockquote>`,
};

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

async function renderAll() {
  const r = createEmailRenderer({
    templatesDir,
    branding: {
      siteName: 'Thin Line News',
      siteUrl: 'https://news.example.com',
      postalAddress: 'Thin Line News Ltd\n12 Harbour Street, Bristol BS1 4AB, UK',
      footerText: `Subscribed at ${article.url}`,
    },
  });
  return {
    confirm: await r.render('confirm', { recipient: { name: recipient.name, confirmUrl: `https://news.example.com/confirm?token=${token}` } }),
    welcome: await r.render('welcome', { frequency: 'daily', recipient }),
    digest: await r.render('digest', { period: 'weekly', articles: [article, { ...article, title: 'Second story' }], recipient }),
    article: await r.render('article', { article: fullArticle, recipient }),
  } satisfies Record<TemplateName, { html: string }>;
}

describe('emails on a narrow screen', () => {
  it('every template fits 320 and 390 px without sideways scrolling', async () => {
    const all = await renderAll();
    const overflowing: string[] = [];
    for (const width of [320, 390]) {
      const context = await browser.newContext({ viewport: { width, height: 800 } });
      const page = await context.newPage();
      // Images are not fetched; the wide one keeps its width attribute, as in a mail client.
      await page.route('**/*', (route) => route.abort());
      for (const [name, email] of Object.entries(all)) {
        await page.setContent(email.html);
        const { scrollWidth, innerWidth } = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth as number,
          innerWidth: window.innerWidth as number,
        }));
        if (scrollWidth > innerWidth) overflowing.push(`${name} at ${width} px: ${scrollWidth} px wide`);
      }
      await context.close();
    }
    expect(overflowing).toEqual([]);
  });
});
