/**
 * Characters and escaping for the feed renderers: what may appear in a feed at all, and XML text,
 * attributes and CDATA. Pure and allocation-light: the renderers build strings, never a DOM. The rules
 * follow what the W3C Feed Validator checks (see render-rss.ts / render-atom.ts for the list).
 */
import { escapeHtml } from '../html.ts';

// ---------------------------------------------------------------------------------------------
// Characters
// ---------------------------------------------------------------------------------------------

/**
 * Characters removed from every output string (XML and JSON alike):
 * - C0 controls other than tab, LF and CR, U+FFFE and U+FFFF, and unpaired surrogates: XML 1.0 forbids them;
 * - DEL and the C1 controls (U+007F–U+009F) and U+FFFD: XML 1.0 discourages them and the W3C Feed Validator
 *   reports them as `BadCharacters` (they are almost always mis-decoded windows-1252 or a failed decode).
 */
const UNWANTED_CHARS =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Cheap pre-checks: almost every string is clean and comes back as is, without a replace. */
const SUSPECT_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uD800-\uDFFF\uFFFD-\uFFFF]/;
const CONTROL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD-\uFFFF]/;
const isWellFormed: ((s: string) => boolean) | undefined = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed
  ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
  : undefined;

/** Removes the characters listed above. */
export function cleanString(value: string): string {
  if (!SUSPECT_CHARS.test(value)) return value;
  // Surrogates found: fine if they all pair up (emoji and other astral characters) and nothing else is amiss.
  if (isWellFormed && !CONTROL_CHARS.test(value) && isWellFormed(value)) return value;
  return value.replace(UNWANTED_CHARS, '');
}

const TEXT_SPECIALS = /[&<>\r\n]/g;
const ATTR_SPECIALS = /[&<>"\t\r\n]/g;
const HAS_TEXT_SPECIAL = /[&<>\r\n]/;
const HAS_ATTR_SPECIAL = /[&<>"\t\r\n]/;

/*
 * XML escaping stays apart from the HTML escaper (../html.ts) because it must write other bytes: `&` and `<`
 * are written as hexadecimal character references, as the RSS Best Practices Profile asks for plain text:
 * the W3C Feed Validator only accepts a literal-looking `<b>` or `&amp;` in a plain-text element (RSS title, Atom type="text") without a `CharacterData` / `ContainsHTML` warning when its line carries a `&#x` reference.
 * Line breaks are written as references too, so every element stays on one line and keeps its exact text.
 */
const ESCAPES: Record<string, string> = {
  '&': '&#x26;',
  '<': '&#x3C;',
  '>': '&gt;',
  '"': '&quot;',
  '\t': '&#x9;',
  '\n': '&#xA;',
  '\r': '&#xD;',
};
const escapeChar = (c: string): string => ESCAPES[c] ?? c;

/** Plain text as XML character data. */
export function escapeText(value: string): string {
  const clean = cleanString(value);
  return HAS_TEXT_SPECIAL.test(clean) ? clean.replace(TEXT_SPECIALS, escapeChar) : clean;
}

/** Plain text as a double-quoted XML attribute value. */
export function escapeAttr(value: string): string {
  const clean = cleanString(value);
  return HAS_ATTR_SPECIAL.test(clean) ? clean.replace(ATTR_SPECIALS, escapeChar) : clean;
}

/** Any string as one or more CDATA sections; a `]]>` inside is split across two sections. */
export function cdata(value: string): string {
  return `<![CDATA[${cleanString(value).replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** Plain text as an HTML fragment (for RSS `description`, which readers treat as HTML). */
export function plainTextToHtml(value: string): string {
  return escapeHtml(value, 'text');
}
