/**
 * The one HTML escaper: archive pages, site pages, email personalisation, the sanitized article body and
 * the API reference page all escape through it.
 *
 * `context` says where the text goes. `any` (the default) escapes `& < > " '`, safe in element text and in
 * an attribute quoted either way. `text` (element text) and `attribute` (a double-quoted attribute) escape
 * only what that place needs, as sanitize-html writes them, so sanitized markup serialized again comes out
 * byte for byte as it went in.
 *
 * Self-contained on purpose (no outer references): the API reference page ships its source to the browser.
 */
export function escapeHtml(value: string, context: 'any' | 'text' | 'attribute' = 'any'): string {
  const special = context === 'text' ? /[&<>]/g : context === 'attribute' ? /[&<>"]/g : /[&<>"']/g;
  return value.replace(special, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  mdash: '—',
  ndash: '–',
  hellip: '…',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  copy: '©',
  reg: '®',
  trade: '™',
  middot: '·',
  bull: '•',
  deg: '°',
  euro: '€',
  pound: '£',
  shy: '',
};

/** Decodes numeric character references and the common named entities; anything else stays as written. */
export function decodeHtmlEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}
