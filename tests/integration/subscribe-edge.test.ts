/**
 * The API behind CloudFront, through the real app, DynamoDB Local and the local SES endpoint: the origin
 * check (CloudFront's secret header), the client address taken from CloudFront's headers only when that
 * check passed, and the subscribe limits as deployed (SUBSCRIBE_LIMITS) on a clock the test moves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../../lambdas/core/clock.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import { SUBSCRIBE_LIMITS } from '../../lambdas/core/subscribers/subscribe-limits.ts';
import { ORIGIN_HEADER } from '../../lambdas/http/origin-guard.ts';
import { startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';

type Json = { error?: { code: string; message: string; requestId?: string } } & Record<string, unknown>;
const SECRET = 'edge-origin-secret-0123456789abcdefghij';

/** A JSON subscribe as CloudFront forwards it: the origin header, and the viewer's address. */
const subscribe = (h: SubscriberHarness, email: string, headers: Record<string, string> = {}) =>
  fetch(`${h.url}/subscribe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ email }) });
const viaCloudFront = (viewer: string) => ({ [ORIGIN_HEADER]: SECRET, 'cloudfront-viewer-address': viewer });

describe('only through CloudFront', () => {
  let h: SubscriberHarness;
  beforeAll(async () => {
    h = await startSubscriberHarness({ originSecret: SECRET });
  });
  afterAll(() => h.stop());

  it('refuses a request without the origin header with 403 origin.forbidden, saying what it expected and where to go', async () => {
    for (const [method, path] of [
      ['GET', '/health'],
      ['GET', '/subscribe'],
      ['GET', '/api/openapi.json'],
      ['GET', '/api/subscribers'],
    ] as const) {
      const res = await fetch(h.url + path, { method, headers: { authorization: `Bearer ${h.apiKey}` } });
      expect(res.status, `${method} ${path}`).toBe(403);
      const body = (await res.json()) as Json;
      expect(body.error!.code).toBe('origin.forbidden');
      expect(body.error!.message).toContain(ORIGIN_HEADER);
      expect(body.error!.message).toContain('had none');
      expect(body.error!.message).toContain(h.url);
      expect(body.error!.requestId).toBeTruthy();
    }
  });

  it('refuses a wrong origin header, and nothing is written or sent', async () => {
    const res = await subscribe(h, 'direct@example.org', { [ORIGIN_HEADER]: `${SECRET}x`, 'cloudfront-viewer-address': '203.0.113.7:1' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as Json).error!.message).toContain('had another');
    expect(await h.repo.findByEmailHash(emailHash('direct@example.org'))).toBeUndefined();
    expect(h.mailTo('direct@example.org')).toHaveLength(0);
  });

  it('answers a request that carries it', async () => {
    expect((await fetch(`${h.url}/health`, { headers: { [ORIGIN_HEADER]: SECRET } })).status).toBe(200);
    expect((await subscribe(h, 'through@example.org', viaCloudFront('203.0.113.7:443'))).status).toBe(202);
    await h.waitForMail('through@example.org');
  });

  it('documents the 403 on every operation and the 429 with Retry-After on subscribe', async () => {
    const doc = (await (await fetch(`${h.url}/api/openapi.json`, { headers: { [ORIGIN_HEADER]: SECRET } })).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; headers?: Record<string, unknown> }> }>>;
    };
    const operations = Object.values(doc.paths).flatMap((p) => Object.values(p));
    expect(operations.length).toBeGreaterThan(10);
    for (const op of operations) expect(op.responses['403']).toBeDefined();
    const subscribeOp = doc.paths['/subscribe']!.post!;
    expect(subscribeOp.responses['403']!.description).toContain('CloudFront');
    expect(subscribeOp.responses['429']!.headers).toHaveProperty('Retry-After');
  });
});

describe('the client address', () => {
  it('comes from CloudFront-Viewer-Address behind the origin check, counted per network (IPv4 /24, IPv6 /64)', async () => {
    const h = await startSubscriberHarness({ originSecret: SECRET, limits: { perNetwork: { max: 1, windowSeconds: 600 } } });
    try {
      const statuses = async (pairs: [string, string][]) => {
        const out: number[] = [];
        for (const [email, viewer] of pairs) out.push((await subscribe(h, email, viaCloudFront(viewer))).status);
        return out;
      };
      expect(
        await statuses([
          ['n1@example.org', '203.0.113.7:50000'],
          ['n2@example.org', '203.0.113.200:50001'], // same /24
          ['n3@example.org', '198.51.100.7:50000'], // another network
          ['n4@example.org', '2001:db8:1:2::5:443'],
          ['n5@example.org', '2001:db8:1:2:ffff::6:443'], // same /64
          ['n6@example.org', '2001:db8:1:3::1:443'], // another /64
        ]),
      ).toEqual([202, 429, 202, 202, 429, 202]);
    } finally {
      await h.stop();
    }
  });

  it('ignores CloudFront-Viewer-Address without the origin check: a client cannot pick its own address', async () => {
    const h = await startSubscriberHarness({ limits: { perNetwork: { max: 1, windowSeconds: 600 } } });
    try {
      expect((await subscribe(h, 'm1@example.org', { 'cloudfront-viewer-address': '203.0.113.7:1' })).status).toBe(202);
      // Another made-up address does not make another client: the socket (127.0.0.1) counts.
      expect((await subscribe(h, 'm2@example.org', { 'cloudfront-viewer-address': '198.51.100.7:1', 'x-inkwire-viewer-address': '192.0.2.1' })).status).toBe(
        429,
      );
    } finally {
      await h.stop();
    }
  });
});

describe('subscribe limits as deployed', () => {
  // Windows are aligned to the epoch: at midnight every window has just begun.
  const clock = new FixedClock('2030-01-07T00:00:00Z');
  let h: SubscriberHarness;
  beforeAll(async () => {
    h = await startSubscriberHarness({ originSecret: SECRET, clock });
  });
  afterAll(() => h.stop());

  it('lets a whole office subscribe, and keeps one that went over waiting minutes, not an hour', async () => {
    const office = (i: number) => viaCloudFront(`203.0.113.${(i % 250) + 1}:${40000 + i}`);
    const { max, windowSeconds } = SUBSCRIBE_LIMITS.perNetwork;
    for (let i = 0; i < max; i++) expect((await subscribe(h, `colleague${i}@example.org`, office(i))).status, `colleague ${i}`).toBe(202);

    const over = await subscribe(h, 'late@example.org', office(max));
    expect(over.status).toBe(429);
    const body = (await over.json()) as Json;
    expect(body.error!.code).toBe('request.rateLimited');
    expect(body.error!.message).toContain('from your network');
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
    expect(retryAfter).toBeLessThan(3600);
    // The form shows a page that says when to try again.
    const form = await h.postForm('/subscribe', { email: 'late@example.org' }, office(max + 1));
    expect(form.status).toBe(429);
    expect(form.headers.get('retry-after')).toBe(String(retryAfter));
    const page = await form.text();
    expect(page).toContain('Too many attempts');
    expect(page).toContain('minutes');

    // Other networks are not affected.
    expect((await subscribe(h, 'elsewhere@example.org', viaCloudFront('198.51.100.20:443'))).status).toBe(202);
    // Once Retry-After has passed, the office is let in again.
    clock.advance(retryAfter * 1000);
    expect((await subscribe(h, 'late@example.org', office(max + 2))).status).toBe(202);
  });

  it('limits one email address however its case and +tags are written, from any network', async () => {
    const { max, windowSeconds } = SUBSCRIBE_LIMITS.perEmail;
    const spellings = ['ann@example.org', 'Ann+news@Example.org', 'ANN+x@EXAMPLE.ORG', 'ann+y@example.org', 'ann+z@example.org'];
    const statuses: number[] = [];
    for (let i = 0; i <= max; i++) statuses.push((await subscribe(h, spellings[i]!, viaCloudFront(`192.0.${20 + i}.1:443`))).status);
    expect(statuses).toEqual([...new Array<number>(max).fill(202), 429]);
    const res = await subscribe(h, 'ann+again@example.org', viaCloudFront('198.18.0.1:443'));
    expect(res.status).toBe(429);
    expect(((await res.json()) as Json).error!.message).toContain('for this email address');
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(windowSeconds);
    // Another address is not affected.
    expect((await subscribe(h, 'bob+news@example.org', viaCloudFront('198.18.0.1:443'))).status).toBe(202);
  });

  it('has a site-wide ceiling across networks', async () => {
    const limited = await startSubscriberHarness({ originSecret: SECRET, limits: { siteWide: { max: 3, windowSeconds: 300 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await subscribe(limited, `site${i}@example.org`, viaCloudFront(`198.51.${i}.1:443`))).status);
      expect(statuses).toEqual([202, 202, 202, 429]);
      const res = await subscribe(limited, 'site9@example.org', viaCloudFront('198.51.9.1:443'));
      expect(((await res.json()) as Json).error!.message).toContain('too many people are subscribing right now');
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(300);
    } finally {
      await limited.stop();
    }
  });
});
