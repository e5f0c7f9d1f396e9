import { describe, expect, it } from 'vitest';
import type { Context } from 'hono';
import { clientAddressResolver, parseViewerAddress } from '../../lambdas/http/client-address.ts';
import { Hono } from 'hono';
import { ORIGIN_HEADER, ORIGIN_VERIFIED, originGuard } from '../../lambdas/http/origin-guard.ts';
import { toErrorResponse } from '../../lambdas/http/errors.ts';
import { clientNetwork, emailRateKey, SUBSCRIBE_LIMITS } from '../../lambdas/core/subscribers/subscribe-limits.ts';

/** A request's headers and whether it passed the origin check, as the resolver reads them. */
const ctx = (headers: Record<string, string>, verified: boolean) =>
  ({
    req: { header: (n: string) => headers[n.toLowerCase()] },
    get: (key: string) => (key === ORIGIN_VERIFIED ? verified : undefined),
  }) as unknown as Context;
const resolve = clientAddressResolver({ trustedProxyHops: 0, socket: () => '130.176.1.2' });

describe('CloudFront-Viewer-Address', () => {
  it('is ip:port, the port after the last colon, for IPv4 and IPv6', () => {
    expect(parseViewerAddress('198.51.100.10:46532')).toBe('198.51.100.10');
    expect(parseViewerAddress('2001:db8::1:443')).toBe('2001:db8::1');
    expect(parseViewerAddress('2001:db8:85a3::8a2e:370:7334:5000')).toBe('2001:db8:85a3::8a2e:370:7334');
    expect(parseViewerAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
  });

  it('is nothing when it is not of that form', () => {
    for (const bad of [undefined, '', '198.51.100.10', ':443', '198.51.100.10:', '198.51.100.10:port', 'example.org:443', '<script>:1']) {
      expect(parseViewerAddress(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('client address behind CloudFront', () => {
  it('takes the viewer address CloudFront wrote when the request carried the origin secret', () => {
    expect(resolve(ctx({ 'cloudfront-viewer-address': '203.0.113.7:51000' }, true))).toBe('203.0.113.7');
    expect(resolve(ctx({ 'cloudfront-viewer-address': '2001:db8:1:2::9:443' }, true))).toBe('2001:db8:1:2::9');
    // The edge function's header (from event.viewer.ip) comes first.
    expect(resolve(ctx({ 'x-inkwire-viewer-address': '2001:db8::7', 'cloudfront-viewer-address': '203.0.113.7:51000' }, true))).toBe('2001:db8::7');
    expect(resolve(ctx({ 'x-inkwire-viewer-address': 'nonsense', 'cloudfront-viewer-address': '203.0.113.7:51000' }, true))).toBe('203.0.113.7');
  });

  it('ignores both headers without the origin secret: anyone can send them', () => {
    expect(resolve(ctx({ 'cloudfront-viewer-address': '203.0.113.7:51000', 'x-inkwire-viewer-address': '203.0.113.8' }, false))).toBe('130.176.1.2');
  });

  it('falls back to the socket when CloudFront wrote nothing usable', () => {
    expect(resolve(ctx({ 'cloudfront-viewer-address': 'garbage' }, true))).toBe('130.176.1.2');
    expect(resolve(ctx({}, true))).toBe('130.176.1.2');
  });
});

describe('what subscribe limits count by', () => {
  it('groups clients by network: IPv4 /24, IPv6 /64 (IPv4-mapped IPv6 as IPv4)', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.0/24');
    expect(clientNetwork('203.0.113.250')).toBe(clientNetwork('203.0.113.7'));
    expect(clientNetwork('203.0.114.7')).not.toBe(clientNetwork('203.0.113.7'));
    expect(clientNetwork('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientNetwork('2001:db8:1:2::9')).toBe(clientNetwork('2001:DB8:1:2:ffff::1'));
    expect(clientNetwork('2001:db8:1:3::9')).not.toBe(clientNetwork('2001:db8:1:2::9'));
    expect(clientNetwork('::ffff:192.0.2.44')).toBe('192.0.2.0/24');
    expect(clientNetwork('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientNetwork('unknown')).toBe('unknown');
  });

  it('folds an email address\u2019s case and +tag', () => {
    expect(emailRateKey('a+x@Example.org')).toBe('a@example.org');
    expect(emailRateKey(' A@EXAMPLE.ORG ')).toBe('a@example.org');
    expect(emailRateKey('a+x+y@example.org')).toBe('a@example.org');
    // A local part that is only a tag is left alone.
    expect(emailRateKey('+x@example.org')).toBe('+x@example.org');
  });

  it('keeps every window to minutes for shared networks, and a site-wide ceiling far above one network', () => {
    expect(SUBSCRIBE_LIMITS.perNetwork.windowSeconds).toBeLessThanOrEqual(15 * 60);
    expect(SUBSCRIBE_LIMITS.siteWide.windowSeconds).toBeLessThanOrEqual(15 * 60);
    expect(SUBSCRIBE_LIMITS.siteWide.max / SUBSCRIBE_LIMITS.siteWide.windowSeconds).toBeGreaterThan(
      (10 * SUBSCRIBE_LIMITS.perNetwork.max) / SUBSCRIBE_LIMITS.perNetwork.windowSeconds,
    );
  });
});

describe('origin check across a rotation of the secret', () => {
  it('takes up a new value once a minute at most, and keeps the previous one while CloudFront still sends it', async () => {
    let now = 0;
    let values = ['old-secret'];
    let loads = 0;
    const app = new Hono();
    app.onError((e, c) => toErrorResponse(e, c, () => undefined));
    app.use(
      '*',
      originGuard({
        load: async () => {
          loads++;
          return values;
        },
        now: () => now,
      }),
    );
    app.get('/x', (c) => c.text(String(c.get(ORIGIN_VERIFIED as never))));
    const status = async (value?: string) => (await app.request('/x', { headers: value ? { [ORIGIN_HEADER]: value } : {} })).status;

    expect(await status('old-secret')).toBe(200);
    expect(await status()).toBe(403);
    values = ['new-secret', 'old-secret'];
    // Within the minute a wrong value does not make it read the secret again.
    expect(await status('new-secret')).toBe(403);
    expect(loads).toBe(1);
    now += 60_000;
    expect(await status('new-secret')).toBe(200);
    expect(await status('old-secret')).toBe(200);
    expect(loads).toBe(2);
    expect(await (await app.request('/x', { headers: { [ORIGIN_HEADER]: 'new-secret' } })).text()).toBe('true');
  });
});
