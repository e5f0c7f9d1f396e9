import { defaultTreeAdapter, html as parse5Html, parseFragment } from 'parse5';
import { describe, expect, it } from 'vitest';
import { markdownToHtml, renderArticleBody, sanitizeArticleHtml } from '../../lambdas/core/articles/content.ts';
import { ArticleInputSchema, ArticlePatchSchema } from '../../lambdas/core/articles/schema.ts';

const BASE = 'https://news.example.com/articles/a-story/';
const clean = (html: string) => sanitizeArticleHtml(html, BASE);

/** What an HTML5 parser (as feed validators use) reports about a fragment inside <body>. */
function parseErrors(html: string): string[] {
  const errors: string[] = [];
  parseFragment(defaultTreeAdapter.createElement('body', parse5Html.NS.HTML, []), html, { onParseError: (e) => errors.push(e.code) });
  return errors;
}

const BROKEN: [string, string, string][] = [
  ['a cell without row or body', '<table><td>x</td></table>', '<table><tbody><tr><td>x</td></tr></tbody></table>'],
  ['a row without body', '<table><tr><th>h</th></tr></table>', '<table><tbody><tr><th>h</th></tr></tbody></table>'],
  [
    'a link inside a link',
    '<a href="/one">one <a href="/two">two</a></a>',
    '<a href="https://news.example.com/one">one </a><a href="https://news.example.com/two">two</a>',
  ],
  ['a stray row', '<p>before</p><tr><td>cell</td></tr><p>after</p>', '<p>before</p>cell<p>after</p>'],
  ['a stray caption', '<caption>Figure 1</caption>', 'Figure 1'],
  ['unclosed paragraphs', '<p>one<p>two', '<p>one</p><p>two</p>'],
  ['a table inside a paragraph', '<p>text<table><tr><td>x</td></tr></table>more', '<p>text</p><table><tbody><tr><td>x</td></tr></tbody></table>more'],
  ['unclosed list items', '<ul><li>a<li>b</ul>', '<ul><li>a</li><li>b</li></ul>'],
  ['misnested formatting', '<b><i>x</b> y</i>', '<b><i>x</i></b> y'],
  ['a heading inside a heading', '<h2>a<h3>b</h3></h2>', '<h2>a</h2><h3>b</h3>'],
  ['text directly in a table', '<table>loose<tr><td>y</td></tr></table>', 'loose<table><tbody><tr><td>y</td></tr></tbody></table>'],
  [
    'a nested table without bodies',
    '<table><tr><td><table><td>n</table></td></tr></table>',
    '<table><tbody><tr><td><table><tbody><tr><td>n</td></tr></tbody></table></td></tr></tbody></table>',
  ],
];

describe('sanitizeArticleHtml: structure', () => {
  it.each(BROKEN)('repairs %s as an HTML5 parser would', (_name, input, expected) => {
    const out = clean(input);
    expect(out).toBe(expected);
    expect(parseErrors(out)).toEqual([]);
  });

  it('is idempotent: its output passes through unchanged', () => {
    for (const [, input] of BROKEN) {
      const once = clean(input);
      expect(clean(once)).toBe(once);
    }
  });

  it('leaves well-formed Markdown output as it was', () => {
    const md = [
      '# Title',
      '',
      'A paragraph with **bold**, _emphasis_, `code`, "quotes" & an [inline link](/rel "Rel").',
      '',
      '![An image](/img/a.png)',
      '',
      '- one',
      '- two',
      '',
      '1. first',
      '2. second',
      '',
      '> quoted',
      '',
      '| a | b |',
      '|---|---|',
      '| 1 | 2 |',
      '',
      '```js',
      'const x = 1 < 2;',
      '```',
      '',
      '---',
      '',
    ].join('\n');
    const out = renderArticleBody(md, 'markdown', BASE).contentHtml;
    expect(parseErrors(out)).toEqual([]);
    expect(out).toContain('<table>\n<thead>\n<tr>\n<th>a</th>');
    expect(out).toContain('<img src="https://news.example.com/img/a.png" alt="An image" />');
    expect(out).toContain('<pre><code class="language-js">const x = 1 &lt; 2;\n</code></pre>');
    expect(clean(out)).toBe(out);
    expect(clean(markdownToHtml('Line one  \nline two'))).toBe('<p>Line one<br />line two</p>');
  });

  it('keeps the first line break of preformatted text', () => {
    const out = clean('<pre>\n\nindented</pre>');
    expect(clean(out)).toBe(out);
    const pre = parseFragment(out).childNodes[0]!;
    expect(defaultTreeAdapter.isElementNode(pre) && defaultTreeAdapter.getTextNodeContent(pre.childNodes[0] as never)).toBe('\nindented');
  });

  it('escapes text and attributes as before', () => {
    expect(clean('<p title="x">a &lt;b&gt; &amp; "c"</p><a href="/q?a=1&amp;b=2" title="&quot;t&lt;">l</a>')).toBe(
      '<p>a &lt;b&gt; &amp; "c"</p><a href="https://news.example.com/q?a=1&amp;b=2" title="&quot;t&lt;">l</a>',
    );
  });

  it('survives deep nesting (a recursive serializer runs out of stack at a few thousand levels)', () => {
    const out = clean(`${'<q>'.repeat(5_000)}deep`);
    expect(out.startsWith('<q><q>')).toBe(true);
    expect(out).toContain(`deep${'</q>'.repeat(5_000)}`);
  });
});

describe('sanitizeArticleHtml: the allow-list still holds', () => {
  const hostile = [
    '<table><td><script>alert(1)</script><a href="javascript:alert(1)" onclick="x()">j</a></td></table>',
    '<a href="/ok"><a href="JaVaScRiPt:alert(1)" onmouseover="x()">nested</a></a>',
    '<p style="display:none" onload="x()">hidden<p><iframe src="https://evil.example/"></iframe>',
    '<tr><td><img src="/a.png" onerror="alert(1)" style="width:1px"><img src="javascript:alert(1)"></td></tr>',
    '<caption><object data="x"></object><embed src="x"><form action="/x"><input name="q"></form></caption>',
    '<svg><script>alert(1)</script><a href="javascript:alert(1)">svg</a></svg><math><mi xlink:href="javascript:alert(1)">m</mi></math>',
    '<template><script>alert(1)</script></template><noscript><p>n</p></noscript><style>p{}</style>',
    '<a href="//evil.example/x">protocol-relative</a><img src="data:image/png;base64,AAAA">',
    '<p>x<!-- comment --></p><code class="language-js evil">c</code>',
  ];

  it.each(hostile)('%s', (input) => {
    const out = clean(input);
    expect(out).not.toMatch(/<script|<iframe|<object|<embed|<form|<input|<svg|<math|<template|<style|<noscript|<!--/i);
    expect(out).not.toMatch(/\son[a-z]+=|style=|javascript:|data:|xlink/i);
    expect(out).not.toMatch(/(?:href|src)="(?!https?:\/\/|mailto:)/);
    expect(parseErrors(out)).toEqual([]);
    expect(clean(out)).toBe(out);
  });

  it('makes relative URLs absolute and keeps only allowed attributes', () => {
    expect(clean('<table><td><a href="../other/" title="T" rel="x">o</a> <img src="pic.png" alt="A" width="10" class="c"></td></table>')).toBe(
      '<table><tbody><tr><td><a href="https://news.example.com/articles/other/" title="T">o</a> <img src="https://news.example.com/articles/a-story/pic.png" alt="A" width="10" /></td></tr></tbody></table>',
    );
    expect(clean('<a href="mailto:editor@news.example.com">mail</a>')).toBe('<a href="mailto:editor@news.example.com">mail</a>');
    expect(clean('<code class="language-ts">x</code>')).toBe('<code class="language-ts">x</code>');
  });
});

describe('ArticleInputSchema: control characters and invalid code points', () => {
  const MESSAGE = 'must not contain control characters or invalid code points';
  const base = { title: 'A title', body: 'A body', summary: 'A summary', tags: ['Politics'], authors: [{ name: 'Ada Lovelace' }] };
  type Field = 'title' | 'body' | 'summary' | 'tag' | 'author';
  const withText = (field: Field, text: string) => {
    if (field === 'tag') return { ...base, tags: [text] };
    if (field === 'author') return { ...base, authors: [{ name: text }] };
    return { ...base, [field]: text };
  };
  const issues = (field: Field, text: string) => {
    const r = ArticleInputSchema.safeParse(withText(field, text));
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const path = (field: Field) => (field === 'tag' ? 'tags.0' : field === 'author' ? 'authors.0.name' : field);
  const ALL: Field[] = ['title', 'body', 'summary', 'tag', 'author'];

  const refused: [string, string][] = [
    ['NUL', 'a\u0000b'],
    ['BEL (C0)', 'a\u0007b'],
    ['vertical tab', 'a\u000bb'],
    ['form feed', 'a\u000cb'],
    ['ESC', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
    ['PAD, the first C1 control', 'a\u0080b'],
    ['NEL (C1)', 'a\u0085b'],
    ['APC, the last C1 control', 'a\u009fb'],
    ['U+FFFE', 'a\ufffeb'],
    ['U+FFFF', 'a\uffffb'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['a high surrogate at the end', 'ab\ud83d'],
    ['two high surrogates before a low one', 'a\ud83d\ud83d\ude00'],
    ['nothing but a C1 control', '\u0090'],
  ];
  for (const field of ALL) {
    it.each(refused)(`${field}: refuses %s`, (_name, text) => {
      expect(issues(field, text)).toContain(`${path(field)}: ${MESSAGE}`);
    });
  }

  const accepted: [string, string][] = [
    ['U+FFFD, the replacement character', 'a\ufffdb'],
    ['an emoji (a surrogate pair)', 'News \ud83d\udcf0 today'],
    ['a character beyond the BMP', '\u{1d400} bold A'],
    ['non-breaking space and Latin-1 letters', 'Caf\u00e9\u00a0\u00fcber'],
    ['U+00A0..U+00FF right after the C1 range', '\u00a0\u00bf\u00ff'],
    ['U+FFFC, just below the noncharacters', 'a\ufffcb'],
  ];
  for (const field of ALL) {
    it.each(accepted)(`${field}: accepts %s`, (_name, text) => {
      expect(issues(field, text)).toEqual([]);
    });
  }

  it('lets multi-line fields (body, summary) keep tab, LF and CR', () => {
    expect(issues('body', 'line one\r\n\tline two\nline three')).toEqual([]);
    expect(issues('summary', 'line one\r\n\tline two')).toEqual([]);
  });

  it('refuses tab, LF and CR in single-line fields', () => {
    for (const field of ['title', 'tag', 'author'] as const) {
      for (const text of ['a\tb', 'a\nb', 'a\rb']) expect(issues(field, text), JSON.stringify(text)).toEqual([`${path(field)}: must be one line`]);
    }
  });

  it('applies the same rules to a PATCH', () => {
    const r = ArticlePatchSchema.safeParse({ title: 'Title\u0085', tags: ['C\u009b'] });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([`title: ${MESSAGE}`, `tags.0: ${MESSAGE}`]);
  });
});
