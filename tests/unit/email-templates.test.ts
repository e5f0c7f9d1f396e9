import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmailRenderer, type Branding, type DigestArticle, type RecipientFields, type TemplateName } from '../../lambdas/core/email/templates.ts';

const templatesDir = fileURLToPath(new URL('../../templates/email/', import.meta.url));

const branding = (over: Partial<Branding> = {}): Branding => ({
  siteName: 'Thin Line News',
  siteUrl: 'https://news.example.com',
  postalAddress: 'Thin Line News Ltd\n12 Harbour Street, Bristol BS1 4AB, UK',
  footerText: 'You receive this email because you subscribed at news.example.com.',
  ...over,
});

const subscriber = (over: Partial<RecipientFields> = {}): RecipientFields => ({
  name: 'Ada',
  unsubscribeUrl: 'https://news.example.com/unsubscribe?t=abc&s=1',
  preferencesUrl: 'https://news.example.com/preferences?t=abc',
  ...over,
});

const article = (over: Partial<DigestArticle> = {}): DigestArticle => ({
  title: 'U.S. Led Drone Strike Kills Iranian-Backed Militia Leader',
  summary: 'The rupture between the Iraqi armed forces and the United States has sharply intensified after a drone strike in Baghdad.',
  url: 'https://news.example.com/articles/drone-strike-baghdad',
  publishedAt: '2024-02-11T10:00:00.000Z',
  ...over,
});

const fullArticle = {
  title: 'U.S. Led Drone Strike Kills Iranian-Backed Militia Leader',
  url: 'https://news.example.com/articles/drone-strike-baghdad',
  summary: 'Iraq calls for the expulsion of U.S. troops.',
  byline: 'By Jane Doe',
  publishedAt: '2024-02-11T10:00:00.000Z',
  contentHtml:
    '<p>The strike targeted Wissam Mohammed “Abu Bakr” al-Saadi, a key figure within <a href="https://en.wikipedia.org/wiki/Kataib_Hezbollah">Kataib Hezbollah</a>.</p>' +
    '<h2>A Call for Stability</h2><ul><li>Sovereignty</li><li>Civil peace</li></ul><p><img src="https://news.example.com/img/map.png" alt="Map of Baghdad"></p>',
};

const renderer = () => createEmailRenderer({ templatesDir, branding: branding() });

async function renderAll() {
  const r = renderer();
  return {
    confirm: await r.render('confirm', { recipient: { name: 'Ada', confirmUrl: 'https://news.example.com/subscribe/confirm?t=tok123' } }),
    welcome: await r.render('welcome', { frequency: 'daily', recipient: subscriber() }),
    digest: await r.render('digest', {
      period: 'weekly',
      articles: [article(), article({ title: 'Second story', url: 'https://news.example.com/articles/second' })],
      recipient: subscriber(),
    }),
    article: await r.render('article', { article: fullArticle, recipient: subscriber() }),
  } satisfies Record<TemplateName, unknown>;
}

const TAG = /<\/?[a-z][a-z0-9]*(\s[^>]*)?>/i;

describe('email templates', () => {
  it('renders subject, html and text for every template', async () => {
    const all = await renderAll();
    expect(all.confirm.subject).toBe('Confirm your subscription to Thin Line News');
    expect(all.welcome.subject).toBe('Welcome to Thin Line News');
    expect(all.digest.subject).toBe('Thin Line News: your weekly digest (2 new articles)');
    expect(all.article.subject).toBe(fullArticle.title);
    for (const [name, email] of Object.entries(all)) {
      expect(email.html, name).toMatch(/^<!doctype html>/i);
      expect(email.html, name).toContain('width="600"');
      expect(email.text.trim().length, name).toBeGreaterThan(100);
    }
    expect(all.digest.html).toContain('Second story');
    expect(all.digest.text).toContain('2. Second story');
    expect(all.welcome.text).toContain('one email a day');
  });

  it('escapes subscriber-provided values in the HTML part', async () => {
    const r = renderer();
    const evil = '<script>alert(1)</script>';
    for (const email of [
      await r.render('confirm', { recipient: { name: evil, confirmUrl: 'https://news.example.com/c?t=1' } }),
      await r.render('digest', {
        period: 'daily',
        articles: [
          article({
            title: '<img src=x onerror=alert(2)>',
            summary: 'Use the <b> tag',
            imageUrl: 'https://news.example.com/i.jpg',
            imageAlt: '"><script>x</script>',
          }),
        ],
        recipient: subscriber({ name: evil }),
      }),
    ]) {
      expect(email.html).not.toContain('<script>');
      expect(email.html).not.toContain('<img src=x');
      expect(email.html).not.toContain('<b>');
      expect(email.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
    // The plain-text part is not HTML: the name is shown as typed.
    const text = (await r.render('welcome', { recipient: subscriber({ name: 'Tom & <Jerry>' }) })).text;
    expect(text).toContain('Hi Tom & <Jerry>,');
  });

  it('passes trusted article HTML through unescaped and neutralises non-web links', async () => {
    const r = renderer();
    const email = await r.render('article', { article: { ...fullArticle, url: 'javascript:alert(1)' }, recipient: subscriber() });
    expect(email.html).toContain('<a href="https://en.wikipedia.org/wiki/Kataib_Hezbollah"');
    expect(email.html).toMatch(/<h2[^>]*>A Call for Stability<\/h2>/);
    expect(email.html).not.toContain('javascript:');
    expect(email.text).not.toContain('javascript:');
  });

  it('shows unsubscribe and preference links in the footer of newsletter mail, and a confirm link in the confirmation', async () => {
    const all = await renderAll();
    for (const name of ['welcome', 'digest', 'article'] as const) {
      expect(all[name].html, name).toMatch(/<a href="https:\/\/news\.example\.com\/unsubscribe\?t=abc&amp;s=1"[^>]*>Unsubscribe<\/a>/);
      expect(all[name].html, name).toMatch(/<a href="https:\/\/news\.example\.com\/preferences\?t=abc"[^>]*>Manage your preferences<\/a>/);
      expect(all[name].text, name).toContain('Unsubscribe:\nhttps://news.example.com/unsubscribe?t=abc&s=1');
      expect(all[name].text, name).toContain('https://news.example.com/preferences?t=abc');
    }
    expect(all.confirm.html).toMatch(/<a class="button" href="https:\/\/news\.example\.com\/subscribe\/confirm\?t=tok123"/);
    expect(all.confirm.text).toContain('https://news.example.com/subscribe/confirm?t=tok123');
    expect(all.confirm.html).not.toContain('Unsubscribe');
  });

  it('writes a text part with no HTML tags, entities decoded, links kept, lines wrapped', async () => {
    const all = await renderAll();
    for (const [name, email] of Object.entries(all)) {
      expect(email.text, name).not.toMatch(TAG);
      expect(email.text, name).not.toMatch(/&(amp|lt|gt|quot|nbsp|#\d+);/);
      for (const line of email.text.split('\n')) {
        if (line.length > 76) expect(line.trim(), `${name}: ${line}`).not.toContain(' ');
      }
    }
    expect(all.article.text).toContain('Kataib Hezbollah (https://en.wikipedia.org/wiki/Kataib_Hezbollah)');
    expect(all.article.text).toContain('- Sovereignty\n- Civil peace');
    expect(all.article.text).toContain('[Map of Baghdad]');
    expect(all.article.text).toContain('“Abu Bakr”');
  });

  it('puts the postal address in every email, HTML and text', async () => {
    const all = await renderAll();
    for (const [name, email] of Object.entries(all)) {
      expect(email.html, name).toContain('Thin Line News Ltd<br>\n12 Harbour Street, Bristol BS1 4AB, UK');
      expect(email.text, name).toContain('Thin Line News Ltd\n12 Harbour Street, Bristol BS1 4AB, UK');
    }
  });

  it('inlines the CSS and keeps dark-mode rules in a style block', async () => {
    const { digest } = await renderAll();
    expect(digest.html).toContain('<meta name="color-scheme" content="light dark">');
    expect(digest.html).toMatch(/<style>[\s\S]*@media \(prefers-color-scheme: dark\)[\s\S]*!important[\s\S]*<\/style>/);
    expect(digest.html).toMatch(/<body class="bg" style="[^"]*background-color: #f4f4f5/);
    expect(digest.html).toMatch(/<td class="card" style="[^"]*padding: 32px/);
    // Only the media queries stay in <style>; plain rules were moved inline.
    const style = /<style>([\s\S]*?)<\/style>/.exec(digest.html)![1]!;
    expect(style.replace(/@media[^{]+\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}/g, '').trim()).toBe('');
  });

  it('uses branding: logo with alt text, colours, no logo falls back to the site name', async () => {
    const r = createEmailRenderer({
      templatesDir,
      branding: branding({ logoUrl: 'https://news.example.com/logo.png', logoAlt: 'Thin Line', colors: { accent: '#ff6600' } }),
    });
    const email = await r.render('welcome', { recipient: subscriber() });
    expect(email.html).toMatch(/<img class="logo" src="https:\/\/news\.example\.com\/logo\.png" alt="Thin Line"/);
    expect(email.html).toContain('background-color: #ff6600');
    const plain = (await renderer().render('welcome', { recipient: subscriber() })).html;
    expect(plain).not.toContain('class="logo"');
    expect(plain).toMatch(/<a href="https:\/\/news\.example\.com"[^>]*>Thin Line News<\/a>/);
  });

  it('refuses branding that could break out of the stylesheet', () => {
    expect(() => createEmailRenderer({ templatesDir, branding: branding({ colors: { accent: 'red;}</style><script>' } }) })).toThrow(/hex colour/);
    expect(() => createEmailRenderer({ templatesDir, branding: branding({ postalAddress: '' }) })).toThrow();
  });

  it('shows article images only when present, always with alt text', async () => {
    const r = renderer();
    const withImage = await r.render('digest', {
      period: 'daily',
      articles: [article({ imageUrl: 'https://news.example.com/i/1.jpg', imageAlt: 'A street in Baghdad' })],
      recipient: subscriber(),
    });
    expect(withImage.html).toMatch(/<img class="item-image" src="https:\/\/news\.example\.com\/i\/1\.jpg" alt="A street in Baghdad"/);
    const without = await r.render('digest', { period: 'daily', articles: [article()], recipient: subscriber() });
    expect(without.html).not.toContain('item-image');
    const decorative = await r.render('digest', {
      period: 'daily',
      articles: [article({ imageUrl: 'https://news.example.com/i/1.jpg' })],
      recipient: subscriber(),
    });
    // An empty alt marks the image decorative (juice writes it as a bare `alt`).
    expect(decorative.html).toMatch(/<img class="item-image"[^>]* alt(="")?[\s>]/);
  });

  it('renders once and personalises per recipient with the same result as a full render', async () => {
    const r = renderer();
    const data = { period: 'daily' as const, articles: [article()] };
    const prepared = await r.prepare('digest', data);
    const alice = subscriber({ name: 'Alice', unsubscribeUrl: 'https://news.example.com/u?t=alice' });
    const bob = subscriber({ name: 'Bob', unsubscribeUrl: 'https://news.example.com/u?t=bob' });
    const a = prepared.personalise(alice);
    const b = prepared.personalise(bob);
    expect(a).toEqual(await r.render('digest', { ...data, recipient: alice }));
    expect(a.html).toContain('Hi Alice,');
    expect(b.html).toContain('Hi Bob,');
    expect(b.html).not.toContain('alice');
    expect(b.html).toContain('https://news.example.com/u?t=bob');
    // No placeholder survives.
    expect(a.html + a.text + a.subject).not.toMatch(/IWPH/);
  });

  it('refuses to personalise without the links a template needs, or with non-web URLs', async () => {
    const r = renderer();
    await expect(r.render('confirm', { recipient: { name: 'Ada' } })).rejects.toThrow(/confirmUrl/);
    await expect(r.render('digest', { period: 'daily', articles: [article()], recipient: { preferencesUrl: 'https://x.example/p' } })).rejects.toThrow(
      /unsubscribeUrl/,
    );
    await expect(r.render('welcome', { recipient: subscriber({ unsubscribeUrl: 'javascript:alert(1)' }) })).rejects.toThrow(/http/);
  });

  it('uses a fallback greeting for a recipient without a name', async () => {
    const email = await renderer().render('welcome', { recipient: subscriber({ name: undefined }) });
    expect(email.text).toContain('Hi there,');
    expect(email.html).toContain('Hi there,');
  });

  it('reads subjects and templates from the templates directory, so a publisher can edit them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkwire-templates-'));
    cpSync(templatesDir, dir, { recursive: true });
    const subjects = JSON.parse(readFileSync(join(dir, 'subjects.json'), 'utf8')) as Record<string, string>;
    subjects.welcome = 'Glad you are here, {{ branding.siteName }}';
    writeFileSync(join(dir, 'subjects.json'), JSON.stringify(subjects));
    writeFileSync(
      join(dir, 'welcome.text.liquid'),
      readFileSync(join(dir, 'welcome.text.liquid'), 'utf8').replace('Your subscription is confirmed.', 'You are in.'),
    );
    const email = await createEmailRenderer({ templatesDir: dir, branding: branding() }).render('welcome', { recipient: subscriber() });
    expect(email.subject).toBe('Glad you are here, Thin Line News');
    expect(email.text).toContain('You are in.');
  });
});

describe('a digest with the publisher\u2019s intro', () => {
  it('puts the greeting on its own, then the intro (not "Hi there, This week: ...")', async () => {
    const r = renderer();
    const email = await r.render('digest', {
      period: 'weekly',
      intro: 'This week: the bridge, the budget and the band.',
      articles: [article()],
      recipient: subscriber({ name: 'Ada' }),
    });
    expect(email.text).toMatch(/Hi Ada,\r?\n\r?\nThis week: the bridge, the budget and the band\./);
    expect(email.html).toMatch(/<p[^>]*>Hi Ada,<\/p>\s*<p[^>]*>This week: the bridge, the budget and the band\.<\/p>/);
    expect(email.text).not.toContain('Ada, This week');
  });
});
