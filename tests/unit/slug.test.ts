import { describe, expect, it } from 'vitest';
import { slugify } from '../../lambdas/core/articles/slug.ts';

const WELL_FORMED = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const HASHED = /-?[0-9a-f]{8}$/;

describe('slugify', () => {
  it('spells names it can represent exactly, without a hash', () => {
    expect(slugify('Middle East', 60)).toBe('middle-east');
    expect(slugify('Café', 60)).toBe('cafe');
    expect(slugify('  Crème Brûlée  ', 60)).toBe('creme-brulee');
    expect(slugify("Don't Panic", 60)).toBe('dont-panic');
    expect(slugify('snake_case and-hyphens', 60)).toBe('snake-case-and-hyphens');
    expect(slugify('ＡＢＣ ２０２４', 60)).toBe('abc-2024'); // compatibility forms fold to ASCII
    expect(slugify('Same title')).toBe('same-title');
    expect(slugify('')).toBe('untitled');
  });

  it('gives names that differ only in what a slug cannot spell different slugs', () => {
    const cpp = slugify('C++', 60);
    const csharp = slugify('C#', 60);
    expect(cpp).not.toBe(csharp);
    expect(cpp).not.toBe(slugify('C', 60));
    expect(cpp).toMatch(/^c-[0-9a-f]{8}$/);
    expect(csharp).toMatch(/^c-[0-9a-f]{8}$/);
    expect(slugify('Rock & Roll', 60)).not.toBe(slugify('Rock Roll', 60));
  });

  it('keeps the readable part of a partly representable name', () => {
    expect(slugify('Straße', 60)).toMatch(/^strasse-[0-9a-f]{8}$/);
    expect(slugify('iPhone 手机', 60)).toMatch(/^iphone-[0-9a-f]{8}$/);
  });

  it('tells long names in other scripts apart within the tag length', () => {
    const a = '中华人民共和国国家统计局发布的最新经济数据分析报告摘要'.repeat(2);
    const b = `${'中华人民共和国国家统计局发布的最新经济数据分析报告摘要'.repeat(2).slice(0, -1)}要点`;
    const sa = slugify(a, 60);
    const sb = slugify(b, 60);
    expect(sa).not.toBe(sb);
    for (const s of [sa, sb]) {
      expect(s.length).toBeLessThanOrEqual(60);
      expect(s).toMatch(WELL_FORMED);
    }
  });

  it('is deterministic, and case and surrounding space do not change the slug', () => {
    expect(slugify('C++', 60)).toBe(slugify('C++', 60));
    expect(slugify('  c++ ', 60)).toBe(slugify('C++', 60));
    // The same text in composed and decomposed form is the same name.
    expect(slugify('Straße Ñandú'.normalize('NFD'), 60)).toBe(slugify('Straße Ñandú'.normalize('NFC'), 60));
  });

  it('stays within max and never starts or ends with a hyphen', () => {
    const cases = [
      'a'.repeat(100),
      `${'word '.repeat(20)}+`,
      `${'a'.repeat(50)} ${'b'.repeat(10)}#`,
      '-- C++ --',
      '!!!',
      '---',
      '§',
      `${'x'.repeat(51)}-#`,
      'U.S. Led Drone Strike Kills Iranian-Backed Militia Leader in Baghdad, Officials Say',
    ];
    for (const max of [60, 80]) {
      for (const text of cases) {
        const s = slugify(text, max);
        expect(s.length, text).toBeLessThanOrEqual(max);
        expect(s, text).toMatch(WELL_FORMED);
      }
    }
    const long = slugify(`${'a'.repeat(70)}+`, 60);
    expect(long).toHaveLength(60);
    expect(long).toMatch(HASHED);
  });
});
