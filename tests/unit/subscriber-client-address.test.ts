import { describe, expect, it } from 'vitest';
import type { Context } from 'hono';
import { clientAddressResolver } from '../../lambdas/http/client-address.ts';
import { parseTopicChoices } from '../../lambdas/http/pages.ts';

const ctx = (xff?: string) =>
  ({ req: { header: (n: string) => (n.toLowerCase() === 'x-forwarded-for' ? xff : undefined) }, get: () => undefined }) as unknown as Context;
const socket = () => '10.0.0.5';

describe('clientAddress', () => {
  it('uses the socket address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const resolve = clientAddressResolver({ trustedProxyHops: 0, socket });
    expect(resolve(ctx('203.0.113.7'))).toBe('10.0.0.5');
    expect(resolve(ctx())).toBe('10.0.0.5');
  });

  it('behind N trusted proxies, takes the N-th entry from the right (the one the outermost trusted proxy saw)', () => {
    expect(clientAddressResolver({ trustedProxyHops: 1, socket })(ctx('198.51.100.1, 203.0.113.7'))).toBe('203.0.113.7');
    expect(clientAddressResolver({ trustedProxyHops: 2, socket })(ctx('198.51.100.1, 203.0.113.7, 10.1.1.1'))).toBe('203.0.113.7');
    expect(clientAddressResolver({ trustedProxyHops: 1, socket })(ctx('2001:db8::1'))).toBe('2001:db8::1');
  });

  it('falls back to the socket when the header is missing, too short or not an address', () => {
    expect(clientAddressResolver({ trustedProxyHops: 1, socket })(ctx())).toBe('10.0.0.5');
    expect(clientAddressResolver({ trustedProxyHops: 3, socket })(ctx('203.0.113.7'))).toBe('10.0.0.5');
    expect(clientAddressResolver({ trustedProxyHops: 1, socket })(ctx('<script>'))).toBe('10.0.0.5');
  });

  it('answers "unknown" when the runtime cannot tell (app.request in tests)', () => {
    expect(
      clientAddressResolver({
        trustedProxyHops: 0,
        socket: () => {
          throw new Error('no socket');
        },
      })(ctx()),
    ).toBe('unknown');
  });
});

describe('topic choices from configuration', () => {
  it('slugifies tag names and drops duplicates', () => {
    expect(parseTopicChoices(' Politics, Science ,Climate Change,politics,, ')).toEqual([
      { slug: 'politics', name: 'Politics' },
      { slug: 'science', name: 'Science' },
      { slug: 'climate-change', name: 'Climate Change' },
    ]);
    expect(parseTopicChoices(undefined)).toEqual([]);
  });
});
