/**
 * Escaping and normalising helpers shared by the feed renderers.
 *
 * Everything here is pure and allocation-light: the renderers build strings, never a DOM.
 * The rules follow what the W3C Feed Validator checks (see render-rss.ts / render-atom.ts for the list).
 */
import { domainToASCII } from 'node:url';
import { escapeHtml } from '../html.ts';
import type { FeedCategory, FeedDocument, FeedEntry, FeedPerson } from './model.ts';

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
const isWellFormed: ((s: string) => boolean) | undefined = (
  String.prototype as { isWellFormed?: (this: string) => boolean }
).isWellFormed
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

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/** ISO 8601 / RFC 3339 with an explicit offset, or a bare date (read as UTC midnight). */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:[Zz]|([+-])(\d{2}):(\d{2})))?$/;

/** Parses without Date.parse (slow); rejects out-of-range fields instead of rolling them over. */
function parseDate(iso: string): Date {
  const m = ISO_DATE.exec(iso.trim());
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac, sign, oh = '0', om = '0'] = m;
    const year = Number(y);
    const month = Number(mo) - 1;
    const day = Number(d);
    const hour = Number(h);
    const minute = Number(mi);
    const second = Number(s);
    const ms = frac ? Number(`${frac.slice(1)}00`.slice(0, 3)) : 0;
    const offset = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
    const local = new Date(Date.UTC(year, month, day, hour, minute, second, ms));
    if (year < 100) local.setUTCFullYear(year);
    if (
      local.getUTCFullYear() === year &&
      local.getUTCMonth() === month &&
      local.getUTCDate() === day &&
      local.getUTCHours() === hour &&
      local.getUTCMinutes() === minute &&
      local.getUTCSeconds() === second &&
      Number(oh) < 24 &&
      Number(om) < 60
    ) {
      return new Date(local.getTime() - offset * 60_000);
    }
  }
  throw new RangeError(`Feed model date is not an ISO 8601 date-time with an offset: ${JSON.stringify(iso)}`);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** RFC 822 date-time as RSS 2.0 wants it: `Sun, 11 Feb 2024 10:00:00 +0000` (4-digit year, numeric zone). */
export function rfc822Date(iso: string): string {
  const d = parseDate(iso);
  return (
    `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ` +
    `${String(d.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`
  );
}

/** RFC 3339 in UTC, e.g. `2024-02-11T10:00:00Z` (milliseconds kept only when not zero). */
export function rfc3339Date(iso: string): string {
  const s = parseDate(iso).toISOString();
  return s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
}

// ---------------------------------------------------------------------------------------------
// URLs, e-mail addresses, language tags
// ---------------------------------------------------------------------------------------------

/** Characters RFC 2396 allows in a URI (the set the W3C Feed Validator checks links against), or a %XX escape. */
const SAFE_URL = /^(?:[A-Za-z0-9;/?:@&=+$.\-_!~*'(),#]|%[0-9A-Fa-f]{2})*$/;
const UNSAFE_URL_CHAR = /%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9;/?:@&=+$.\-_!~*'(),#%]/gu;
const AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)/;
const encodeUrlChar = (c: string): string => (c === '%' ? '%25' : encodeURIComponent(c));

function authorityToAscii(authority: string): string {
  if (SAFE_URL.test(authority)) return authority;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1).replace(UNSAFE_URL_CHAR, encodeUrlChar) : '';
  const hostPort = authority.slice(at + 1);
  const portMatch = /:\d*$/.exec(hostPort);
  const host = portMatch ? hostPort.slice(0, portMatch.index) : hostPort;
  const ascii = domainToASCII(host);
  return userinfo + (ascii || host.replace(UNSAFE_URL_CHAR, encodeUrlChar)) + (portMatch ? portMatch[0] : '');
}

/**
 * An absolute URL (or IRI) as a URI: non-ASCII and other characters RFC 2396 does not allow are percent-encoded
 * (UTF-8), an internationalised host is converted to punycode. URLs that are already clean come back unchanged.
 */
export function normalizeUrl(url: string): string {
  const value = cleanString(url).trim();
  if (SAFE_URL.test(value)) return value;
  const m = AUTHORITY.exec(value);
  if (!m) return value.replace(UNSAFE_URL_CHAR, encodeUrlChar);
  const [whole, scheme = '', authority = ''] = m;
  return scheme + authorityToAscii(authority) + value.slice(whole.length).replace(UNSAFE_URL_CHAR, encodeUrlChar);
}

/** The address form the W3C Feed Validator accepts without looking the domain up (RSS `author`, Atom `email`). */
const EMAIL = /^[A-Za-z0-9_\-+.']+@(?:(?:\d{1,3}\.){3}|(?:[A-Za-z0-9-]+\.)+)[A-Za-z0-9][A-Za-z0-9-]*$/;

export function isValidEmail(email: string | undefined): email is string {
  return email !== undefined && EMAIL.test(email);
}

/** BCP 47 shape as RFC 4287 constrains `xml:lang` (atomLanguageTag). */
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

/** The document language if it is a well-formed tag, else undefined (the element is then left out). */
export function languageTag(doc: FeedDocument): string | undefined {
  const lang = cleanString(doc.language).trim();
  return LANGUAGE_TAG.test(lang) ? lang : undefined;
}

// ---------------------------------------------------------------------------------------------
// Model preparation shared by the three renderers
// ---------------------------------------------------------------------------------------------

export interface Person {
  name: string;
  email: string | undefined;
  url: string | undefined;
}

export interface Category {
  term: string;
  label: string;
  scheme: string | undefined;
}

/** People with a non-blank name (a nameless person is dropped); a malformed e-mail address is dropped. */
export function people(list: readonly FeedPerson[]): Person[] {
  const out: Person[] = [];
  for (const p of list) {
    const name = cleanString(p.name).trim();
    if (!name) continue;
    const email = p.email === undefined ? undefined : cleanString(p.email).trim();
    const url = p.url === undefined ? undefined : normalizeUrl(p.url);
    out.push({ name, email: isValidEmail(email) ? email : undefined, url: url || undefined });
  }
  return out;
}

/** Categories with a non-blank term (Atom requires `term`); a blank label falls back to the term. */
export function categories(list: readonly FeedCategory[]): Category[] {
  const out: Category[] = [];
  for (const c of list) {
    const term = cleanString(c.term).trim();
    if (!term) continue;
    const label = cleanString(c.label).trim() || term;
    const scheme = normalizeUrl(c.scheme);
    out.push({ term, label, scheme: scheme || undefined });
  }
  return out;
}

/**
 * The entries to render: the first (newest) of entries sharing an id wins, so no document ever carries duplicate
 * ids (RSS `guid` DuplicateValue, Atom `DuplicateEntries`).
 */
export function uniqueEntries(entries: readonly FeedEntry[]): FeedEntry[] {
  const seen = new Set<string>();
  const out: FeedEntry[] = [];
  for (const e of entries) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e);
  }
  return out;
}

/**
 * The feed-level author used when at least one entry has no author of its own (Atom requires an author on every
 * entry or on the feed; JSON Feed items inherit the top-level authors): the publication itself.
 */
export function fallbackAuthor(doc: FeedDocument, entries: readonly FeedEntry[]): Person | undefined {
  if (!entries.some((e) => people(e.authors).length === 0)) return undefined;
  const url = normalizeUrl(doc.homeUrl) || undefined;
  const name = cleanString(doc.title).trim() || url || 'Unknown';
  return { name, email: undefined, url };
}
