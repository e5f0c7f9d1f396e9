import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Marked } from 'marked';
import { describe, expect, it } from 'vitest';
import { isBoilerplateLine, parseDateLine, parsePlainTextArticle } from '../../lambdas/core/articles/plain-text.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/articles/2024-02-11-us-drone-strike-baghdad.txt', import.meta.url));
const SHARED = '/work/shared/samples/articles/2024-02-11-us-drone-strike-baghdad.txt';
const samples = [FIXTURE, ...(existsSync(SHARED) ? [SHARED] : [])];

const marked = new Marked({ gfm: true, breaks: false, async: false });
const render = (md: string) => marked.parse(md) as string;

/** The text a reader sees: tags dropped, entities decoded, whitespace collapsed. */
function visibleText(html: string): string {
  return html
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Only paragraphs and h2 headings: nothing in the text may turn into other Markdown structure. */
function blockTags(html: string): string[] {
  return [...html.matchAll(/<([a-z0-9]+)[\s>]/g)].map((m) => m[1]!);
}

describe.each(samples)('the publisher archive sample %s', (path) => {
  const text = readFileSync(path, 'utf8');
  const article = parsePlainTextArticle(text);

  it('reads the title and the date line', () => {
    expect(article.title).toBe('U.S. Led Drone Strike Kills Iranian-Backed Militia Leader');
    expect(article.publishedAt).toBe('2024-02-11T00:00:00Z');
  });

  it('turns the short standalone lines into section headings, and nothing else', () => {
    const headings = article.bodyMarkdown.split('\n').filter((l) => l.startsWith('#'));
    expect(headings).toEqual(['## A Call for Stability and Sovereignty', '## International Reactions and the Path Forward', '## Conclusion']);
  });

  it('keeps every paragraph, in order, with its typography intact', () => {
    const blocks = article.bodyMarkdown.trimEnd().split('\n\n');
    expect(blocks).toHaveLength(16);
    expect(blocks[0]).toMatch(/^The rupture between the Iraqi armed forces/);
    expect(blocks.at(-1)).toMatch(/sovereignty, security, and international law\.$/);
    expect(article.bodyMarkdown).toContain('Wissam Mohammed \u201cAbu Bakr\u201d al-Saadi');
    expect(article.bodyMarkdown).toContain('Iraq\u2019s determination');
    // The no-break space + space after "further." becomes a single space.
    expect(article.bodyMarkdown).toContain('destabilize the region further. "This trajectory compels');
    expect(article.bodyMarkdown).not.toMatch(/ {2}|\u00a0/);
  });

  it('drops the comment form and the copyright footer', () => {
    expect(article.bodyMarkdown).not.toMatch(/Leave a Reply|email address will not be published|Required fields|Copyright|Thin Line News/);
  });

  it('renders as exactly the article text', () => {
    const html = render(article.bodyMarkdown);
    expect(new Set(blockTags(html))).toEqual(new Set(['p', 'h2']));
    const expected = text
      .split(/\r?\n/)
      .slice(3) // title, blank, date
      .join('\n')
      .split('Leave a Reply')[0]!
      .replace(/[\s\u00a0]+/g, ' ')
      .trim();
    expect(visibleText(html)).toBe(expected);
  });

  it('gives the same result for CRLF line endings and a byte-order mark', () => {
    expect(parsePlainTextArticle(`\uFEFF${text.replace(/\r?\n/g, '\r\n')}`)).toEqual(article);
  });
});

it('the committed fixture is the sample from the publisher', () => {
  if (!existsSync(SHARED)) return;
  expect(readFileSync(FIXTURE, 'utf8')).toBe(readFileSync(SHARED, 'utf8'));
});

describe('parsePlainTextArticle', () => {
  it('refuses text without a title', () => {
    expect(() => parsePlainTextArticle('')).toThrow(/no title/);
    expect(() => parsePlainTextArticle(' \n\u00a0\r\n\t\n')).toThrow(/no title/);
    expect(() => parsePlainTextArticle('February 11, 2024\n\nA paragraph.')).toThrow(/no title.*date/);
  });

  it('works without a date line', () => {
    const a = parsePlainTextArticle('Title\n\nFirst paragraph.\n');
    expect(a).toEqual({ title: 'Title', bodyMarkdown: 'First paragraph.\n' });
    expect('publishedAt' in a).toBe(false);
  });

  it('accepts a date line right after the title, or indented', () => {
    expect(parsePlainTextArticle('Title\n2024-02-11\nBody.').publishedAt).toBe('2024-02-11T00:00:00Z');
    expect(parsePlainTextArticle('Title\n\n\t  Feb 11, 2024\n\nBody.').publishedAt).toBe('2024-02-11T00:00:00Z');
  });

  it('treats a date later in the text as ordinary text', () => {
    const a = parsePlainTextArticle('Title\n\nBody.\n\nMarch 1, 2024\n\nMore.');
    expect(a.publishedAt).toBeUndefined();
    expect(a.bodyMarkdown).toBe('Body.\n\nMarch 1, 2024\n\nMore.\n');
  });

  it('CRLF and lone CR line endings work', () => {
    const a = parsePlainTextArticle('Title\r\n\r\nFebruary 11, 2024\r\n\r\nOne.\r\n\r\nTwo.\r\n');
    expect(a).toEqual({ title: 'Title', publishedAt: '2024-02-11T00:00:00Z', bodyMarkdown: 'One.\n\nTwo.\n' });
    expect(parsePlainTextArticle('Title\r\rOne.\r\rTwo.').bodyMarkdown).toBe('One.\n\nTwo.\n');
  });

  it('joins the lines of a wrapped paragraph and normalises spaces', () => {
    const a = parsePlainTextArticle('Title\n\nThis paragraph was\nwrapped at  a fixed\n   width.\n');
    expect(a.bodyMarkdown).toBe('This paragraph was wrapped at a fixed width.\n');
  });

  it('collapses runs of blank lines and keeps an empty body empty', () => {
    expect(parsePlainTextArticle('Title\n\n\n\nOne.\n\n\n\nTwo.').bodyMarkdown).toBe('One.\n\nTwo.\n');
    expect(parsePlainTextArticle('Title\nFebruary 11, 2024\n').bodyMarkdown).toBe('');
  });

  it('recognises headings only for short standalone lines followed by more text', () => {
    const md = parsePlainTextArticle(
      [
        'Title',
        '',
        'What Happened Next',
        '',
        'Text.',
        '',
        'Is this a question?',
        '',
        'A short sentence.',
        '',
        '“A quotation”',
        '',
        'lowercase start',
        '',
        'This line has far too many words to be a heading even without a full stop at the end',
        '',
        'Two lines',
        'are a paragraph',
        '',
        '2024 Outlook',
        '',
        'Last words',
      ].join('\n'),
    ).bodyMarkdown;
    expect(md.split('\n\n')).toEqual([
      '## What Happened Next',
      'Text.',
      'Is this a question?',
      'A short sentence.',
      '“A quotation”',
      'lowercase start',
      'This line has far too many words to be a heading even without a full stop at the end',
      'Two lines are a paragraph',
      '## 2024 Outlook',
      'Last words\n',
    ]);
  });

  it('escapes text that Markdown would turn into structure', () => {
    const paragraphs = [
      '1. This starts like an ordered list.',
      '2024) was a year, said nobody.',
      '# not a heading, a hash sign.',
      '#hashtag at the start.',
      '- a dash and a space.',
      '+ a plus and a space.',
      '* an asterisk and a space.',
      '> not a quotation.',
      '---',
      '***',
      '___',
      '```',
      '~~~',
      '<script>alert(1)</script> stays text.',
      'Prices went *up* and _down_ and **way up**, see [note](http://x.test) or ![img](a.png).',
      'A back\\slash, `code`, ~~struck~~, &amp; and &#39; as written, <http://example.com> too.',
      'snake_case_words stay as they are; so do 3 * 4 = 12 and A & B.',
      '[ref]: http://example.com/definition',
      '| a | b |',
    ];
    const md = parsePlainTextArticle(['Title', '', ...paragraphs.flatMap((p) => [p, ''])].join('\n')).bodyMarkdown;
    const html = render(md);
    // Bare URLs become links (GFM autolinks) with the same visible text; nothing else becomes markup.
    expect(blockTags(html).filter((t) => t !== 'p' && t !== 'a')).toEqual([]);
    const rendered = [...html.matchAll(/<p>([\s\S]*?)<\/p>/g)].map((m) => visibleText(m[1]!));
    expect(rendered).toEqual(paragraphs);
    // Readable source: no escaping where nothing needs it.
    expect(md).toContain('snake_case_words stay as they are');
    expect(md).toContain('A & B.');
  });

  it('escapes Markdown inside headings and a trailing hash', () => {
    const md = parsePlainTextArticle('Title\n\nThe *Real* Story of C#\n\nText.').bodyMarkdown;
    const html = render(md);
    expect(html).toContain('<h2>The *Real* Story of C#</h2>');
  });

  it('drops trailing site furniture of several kinds but never text in the middle', () => {
    const a = parsePlainTextArticle(
      [
        'Title',
        '',
        'Copyright law is the subject of this piece.',
        '',
        'Leave a reply below if you like, said the editor.',
        '',
        'Final paragraph.',
        '',
        'Share this:',
        'Like this:',
        '',
        '3 Comments',
        '',
        'Leave a Comment',
        'Comment *',
        'Name *',
        'Email *',
        'Website',
        'Save my name, email, and website in this browser for the next time I comment.',
        'Post Comment',
        '',
        '© 2024 Example Media. All rights reserved.',
        'All Rights Reserved',
        '',
      ].join('\n'),
    );
    expect(a.bodyMarkdown).toBe('Copyright law is the subject of this piece.\n\nLeave a reply below if you like, said the editor.\n\nFinal paragraph.\n');
  });

  it('classifies boilerplate lines', () => {
    for (const line of [
      'Leave a Reply',
      'leave a comment',
      'Your email address will not be published.',
      'Copyright 2024, Thin Line News LLC',
      '© Example',
      '(c) 2024 Example',
      'Comments are closed.',
    ]) {
      expect(isBoilerplateLine(line), line).toBe(true);
    }
    for (const line of ['Copyrighted works were discussed.', 'He left a reply on the door.', 'Conclusion']) {
      expect(isBoilerplateLine(line), line).toBe(false);
    }
  });
});

describe('parseDateLine', () => {
  it.each([
    ['February 11, 2024', '2024-02-11T00:00:00Z'],
    ['\u00a0February 11, 2024', '2024-02-11T00:00:00Z'],
    ['Feb 11, 2024', '2024-02-11T00:00:00Z'],
    ['Feb. 11, 2024', '2024-02-11T00:00:00Z'],
    ['Sept 3 2024', '2024-09-03T00:00:00Z'],
    ['February 11th, 2024', '2024-02-11T00:00:00Z'],
    ['11 February 2024', '2024-02-11T00:00:00Z'],
    ['2024-02-11', '2024-02-11T00:00:00Z'],
    ['2024/2/11', '2024-02-11T00:00:00Z'],
    ['Sunday, February 11, 2024', '2024-02-11T00:00:00Z'],
    ['Published: Feb 11, 2024', '2024-02-11T00:00:00Z'],
    ['Posted on February 11, 2024', '2024-02-11T00:00:00Z'],
    ['2024-02-11T09:30:00Z', '2024-02-11T09:30:00.000Z'],
    ['2024-02-11T09:30:00+02:00', '2024-02-11T07:30:00.000Z'],
    ['2024-02-11 09:30', '2024-02-11T09:30:00.000Z'],
  ])('reads %j', (line, iso) => {
    expect(parseDateLine(line)).toBe(iso);
  });

  it.each([
    'February 30, 2024',
    '2024-13-01',
    '02/11/2024',
    'Conclusion',
    'May the force be with you',
    'In February 2024, things changed.',
    '2024-02-11T25:00:00Z',
  ])('does not read %j as a date', (line) => {
    expect(parseDateLine(line)).toBeUndefined();
  });
});
