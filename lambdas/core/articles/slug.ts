import { createHash } from 'node:crypto';

/** Latin letters that NFKD leaves alone: spelled out so the readable part of a slug keeps them. */
const LATIN: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', ð: 'd', þ: 'th', ı: 'i', ħ: 'h' };

/** What a slug spells exactly: ASCII letters and digits, with spaces, hyphens and underscores as separators and apostrophes dropped. */
const REPRESENTABLE = /^[a-z0-9 _'’‘`-]*$/;
const HASH_CHARS = 8;

/**
 * URL-safe slug: lower case ASCII letters, digits and single hyphens, at most `max` characters, never
 * starting or ending with a hyphen. Accents are dropped ("Café" → `cafe`). A name with anything else
 * ("C++", "C#", "Straße", any non-Latin script) keeps its readable part and gains `-` and 8 hex digits
 * of a hash of the whole name, so names that differ only in what the slug cannot spell don't share a
 * slug (and so a tag feed). Deterministic: the same name always gives the same slug.
 */
export function slugify(text: string, max = 80): string {
  const name = text.normalize('NFC').trim().toLowerCase();
  const folded = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
  const readable = folded
    .replace(/[ßæœøłđðþıħ]/g, (c) => LATIN[c] ?? c)
    .replace(/[’'‘`]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (REPRESENTABLE.test(folded)) return readable.slice(0, max).replace(/-+$/, '') || 'untitled';

  const hash = createHash('sha256').update(name).digest('hex').slice(0, Math.min(HASH_CHARS, max));
  const room = max - hash.length - 1;
  const head = room > 0 ? readable.slice(0, room).replace(/-+$/, '') : '';
  return head ? `${head}-${hash}` : hash;
}
