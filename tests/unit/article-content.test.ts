import { describe, expect, it } from 'vitest';
import { ArticleInputSchema, ArticlePatchSchema } from '../../lambdas/core/articles/schema.ts';

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
