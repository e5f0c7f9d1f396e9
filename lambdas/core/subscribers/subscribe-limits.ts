import { isIP } from 'node:net';
import type { RateLimit } from './ports.ts';

/**
 * How often `POST /subscribe` may be called, counted three ways; the first limit reached answers 429 with
 * `Retry-After`. These are app settings (the same in AWS and locally), not Lambda limits.
 *
 * - `perNetwork`: per client network (IPv4 /24, IPv6 /64: see {@link clientNetwork}). An office, a school
 *   or a carrier's NAT puts many people behind one address, so the limit is generous and its window short:
 *   a shared network that hits it waits minutes, not an hour.
 * - `perEmail`: per email address, case and plus-addressing folded ({@link emailRateKey}); each accepted
 *   subscribe mails the address a confirmation, so this keeps anyone from flooding one inbox with them.
 * - `siteWide`: one ceiling across all clients, far above real sign-up rates (a link on a busy front page
 *   brings a few a second at most), against a flood from many networks at once; it also bounds the SES
 *   quota that confirmations can use.
 */
export const SUBSCRIBE_LIMITS = {
  perNetwork: { max: 20, windowSeconds: 600 },
  perEmail: { max: 3, windowSeconds: 3600 },
  siteWide: { max: 600, windowSeconds: 300 },
} as const satisfies Record<string, RateLimit>;

export type SubscribeLimits = { [K in keyof typeof SUBSCRIBE_LIMITS]: RateLimit };

/**
 * The key that counts an address's subscribe attempts: lower-cased, and without a `+tag` in the local
 * part, so `A+news@Example.org` and `a@example.org` are one address (plus-addressing would otherwise
 * give anyone unlimited variants of one inbox). Only for counting: the subscriber keeps the address as
 * given.
 *
 * @example
 * emailRateKey(' A+x@Example.org ') // 'a@example.org'
 */
export function emailRateKey(email: string): string {
  const address = email.trim().toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0) return address;
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  return plus > 0 ? `${local.slice(0, plus)}${address.slice(at)}` : address;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, an embedded IPv4 tail converted). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The network a client address belongs to, as rate limits count it: an IPv4 address's /24, an IPv6
 * address's /64. A /64 is what one subscriber line or one phone gets (SLAAC and privacy addresses
 * rotate inside it), while a /56 could group many customers of a mobile carrier that hands out
 * consecutive /64s; someone who owns a larger block and rotates through its /64s still meets the
 * per-email and site-wide limits. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as IPv4.
 * Anything that is not an IP address (`unknown`) is returned as it is.
 *
 * @example
 * clientNetwork('203.0.113.77')           // '203.0.113.0/24'
 * clientNetwork('2001:db8:a:b:1:2:3:4')   // '2001:db8:a:b::/64'
 */
export function clientNetwork(address: string): string {
  const ip = address.trim().replace(/%.*$/, '');
  const kind = isIP(ip);
  if (kind === 4) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (kind !== 6) return address;
  const groups = ipv6Groups(ip.toLowerCase());
  if (!groups) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.0/24`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
