/**
 * The value formats feeds use: RFC 822 and RFC 3339 dates, URLs as RFC 3987 wants them, email addresses
 * the validator accepts, and the language tag. Pure, like the escaping in xml.ts.
 */
import { domainToASCII } from 'node:url';
import type { FeedDocument } from './model.ts';
import { cleanString } from './xml.ts';

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/** ISO 8601 / RFC 3339 with an explicit offset, or a bare date (read as UTC midnight). */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(?:[Zz]|([+-])(\d{2}):(\d{2})))?$/;

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
