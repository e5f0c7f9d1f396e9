import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { parse } from 'csv-parse/sync';
import { linkIn, startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

let h: SubscriberHarness;
beforeAll(async () => {
  h = await startSubscriberHarness({ limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } } });
});
afterAll(async () => {
  await h?.stop();
});

type Json = Record<string, unknown> & { items?: Record<string, unknown>[]; next?: string | null; error?: { code: string; message: string } };
const json = async (res: Response) => (await res.json()) as Json;
const subscribe = (email: string, extra: Record<string, unknown> = {}) =>
  h.api('/subscribe', { method: 'POST', json: { email, ...extra }, headers: { authorization: '' } });

async function confirmed(email: string, extra: Record<string, unknown> = {}) {
  await subscribe(email, extra);
  const mail = await h.waitForMail(email, h.mailTo(email).length || 1);
  await h.postForm('/confirm', { token: new URL(linkIn(mail.text, `${h.url}/confirm?token=`)).searchParams.get('token')! });
  return (await h.repo.findByEmailHash(emailHash(email)))!;
}

describe('publisher subscriber API', () => {
  it('needs the key', async () => {
    expect((await h.api('/api/subscribers', { headers: { authorization: 'Bearer wrong-key-000000000000' } })).status).toBe(401);
    expect((await fetch(`${h.url}/api/subscribers/counts`)).status).toBe(401);
  });

  it('lists newest first with paging and a status filter, and gets one', async () => {
    const a = await confirmed('list-a@example.org', { frequency: 'daily', name: 'A' });
    await subscribe('list-b@example.org');
    await subscribe('list-c@example.org');
    const all: Record<string, unknown>[] = [];
    let next: string | null | undefined;
    do {
      const page = await json(await h.api(`/api/subscribers?limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`));
      expect(page.items!.length).toBeLessThanOrEqual(2);
      all.push(...page.items!);
      next = page.next;
    } while (next);
    expect(all.map((s) => s.email)).toEqual(expect.arrayContaining(['list-a@example.org', 'list-b@example.org', 'list-c@example.org']));
    expect(new Set(all.map((s) => s.id)).size).toBe(all.length);

    const confirmedOnly = await json(await h.api('/api/subscribers?status=confirmed'));
    expect(confirmedOnly.items!.every((s) => s.status === 'confirmed')).toBe(true);
    const item = confirmedOnly.items!.find((s) => s.id === a.id)!;
    expect(item).toMatchObject({ id: a.id, email: 'list-a@example.org', name: 'A', status: 'confirmed', frequency: 'daily', topics: [] });
    expect(item.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(item.confirmedAt! >= item.createdAt!).toBe(true);
    expect(item).not.toHaveProperty('emailHash');

    const pending = await json(await h.api('/api/subscribers?status=pending'));
    const pendingEmails = pending.items!.map((s) => s.email);
    expect(pendingEmails).toEqual(expect.arrayContaining(['list-b@example.org', 'list-c@example.org']));
    expect(pendingEmails.indexOf('list-c@example.org')).toBeLessThan(pendingEmails.indexOf('list-b@example.org'));

    const one = await h.api(`/api/subscribers/${a.id}`);
    expect(one.status).toBe(200);
    expect((await json(one)).email).toBe('list-a@example.org');
    expect((await h.api('/api/subscribers/0000000000nothere')).status).toBe(404);
    expect((await h.api('/api/subscribers?status=gone')).status).toBe(400);
    expect((await h.api('/api/subscribers?cursor=forged')).status).toBe(400);
  });

  it('finds one subscriber by exact address with ?email=, case-insensitively', async () => {
    const a = await confirmed('Find-Exact@Example.org', { name: 'Finder' });
    await subscribe('find-exact-other@example.org');
    const page = await json(await h.api(`/api/subscribers?email=${encodeURIComponent('find-exact@EXAMPLE.org')}`));
    expect(page).toEqual({ items: [expect.objectContaining({ id: a.id, email: 'Find-Exact@Example.org', name: 'Finder', status: 'confirmed' })], next: null });
    expect((await json(await h.api(`/api/subscribers?email=${encodeURIComponent(' find-exact@example.org ')}&limit=1`))).items!.map((s) => s.id)).toEqual([
      a.id,
    ]);
    expect(await json(await h.api('/api/subscribers?email=find-exact@example.org&status=pending'))).toEqual({ items: [], next: null });
    expect(await json(await h.api('/api/subscribers?email=find-exact@example.or'))).toEqual({ items: [], next: null });
    expect(await json(await h.api('/api/subscribers?email=nobody-at-all@example.org'))).toEqual({ items: [], next: null });

    const doc = (await (await h.api('/api/openapi.json')).json()) as { paths: Record<string, { get: { parameters: { name: string }[] } }> };
    expect(doc.paths['/api/subscribers']!.get.parameters.map((p) => p.name)).toContain('email');
  });

  it('counts by status and frequency', async () => {
    const before = await json(await h.api('/api/subscribers/counts'));
    const s = await confirmed('count-a@example.org', { frequency: 'instant' });
    await subscribe('count-b@example.org', { frequency: 'instant' });
    const after = await json(await h.api('/api/subscribers/counts'));
    const b = before as unknown as { total: number; byStatus: Record<string, number>; byFrequency: Record<string, number>; paused: number };
    const c = after as unknown as typeof b;
    expect(c.total).toBe(b.total + 2);
    expect(c.byStatus.confirmed).toBe(b.byStatus.confirmed! + 1);
    expect(c.byStatus.pending).toBe(b.byStatus.pending! + 1);
    expect(c.byFrequency.instant).toBe(b.byFrequency.instant! + 1);
    const prefs = h.signer.sign({ subscriberId: s.id, purpose: 'preferences', expiresAt: new Date(Date.now() + 60_000) });
    await h.postForm('/preferences', { token: prefs, action: 'save', frequency: 'instant', paused: 'true' });
    expect(((await json(await h.api('/api/subscribers/counts'))) as unknown as typeof b).paused).toBe(b.paused + 1);
  });

  it('erases a subscriber: personal data gone, only a hashed suppression left; the address can come back only by confirming anew', async () => {
    const s = await confirmed('erase-me@example.org', { name: 'Erin Erase' });
    const res = await h.api(`/api/subscribers/${s.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await h.api(`/api/subscribers/${s.id}`)).status).toBe(404);
    const hash = emailHash('erase-me@example.org');
    expect((await h.doc.send(new GetCommand({ TableName: h.tableName, Key: keys.subscriber(s.id) }))).Item).toBeUndefined();
    expect((await h.doc.send(new GetCommand({ TableName: h.tableName, Key: keys.emailClaim(hash) }))).Item).toBeUndefined();
    const suppression = (await h.doc.send(new GetCommand({ TableName: h.tableName, Key: keys.suppression(hash) }))).Item!;
    expect(suppression).toMatchObject({ entity: 'suppression', emailHash: hash, reason: 'erased' });
    expect(JSON.stringify(suppression)).not.toMatch(/erase-me|Erin/);
    expect(await h.repo.isSuppressed(hash)).toBe(true);
    expect((await h.api(`/api/subscribers/${s.id}`, { method: 'DELETE' })).status).toBe(404);

    // Old links of the erased subscriber do nothing harmful.
    const oldUnsub = h.signer.sign({ subscriberId: s.id, purpose: 'unsubscribe', expiresAt: new Date(Date.now() + 60_000) });
    expect(
      (
        await fetch(`${h.url}/unsubscribe?token=${oldUnsub}`, {
          method: 'POST',
          body: 'List-Unsubscribe=One-Click',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).status,
    ).toBe(200);

    // Subscribing again: a new pending subscriber, still suppressed until the confirmation.
    await subscribe('erase-me@example.org');
    const fresh = (await h.repo.findByEmailHash(hash))!;
    expect(fresh.id).not.toBe(s.id);
    expect(fresh.status).toBe('pending');
    expect(await h.repo.isSuppressed(hash)).toBe(true);
    const mails = h.mailTo('erase-me@example.org');
    const mail = mails[mails.length - 1]!;
    await h.postForm('/confirm', { token: new URL(linkIn(mail.text, `${h.url}/confirm?token=`)).searchParams.get('token')! });
    expect((await h.repo.get(fresh.id))!.status).toBe('confirmed');
    expect(await h.repo.isSuppressed(hash)).toBe(false);
  });

  it('exports every subscriber as CSV, streamed', async () => {
    await subscribe('export-a@example.org', { name: '=cmd|calc', topics: ['Science', 'Politics'] });
    const res = await h.api('/api/subscribers/export');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="subscribers-\d{4}-\d{2}-\d{2}\.csv"/);
    const rows = parse(await res.text(), { columns: true }) as Record<string, string>[];
    const row = rows.find((r) => r.email === 'export-a@example.org')!;
    expect(row).toMatchObject({ name: "'=cmd|calc", status: 'pending', topics: 'science;politics', paused: 'false', source: 'form' });
    const counts = (await json(await h.api('/api/subscribers/counts'))) as unknown as { total: number };
    expect(rows).toHaveLength(counts.total);
  });
});

describe('rate limits', () => {
  it('limits subscribe attempts per email address with 429 and Retry-After, before anything is written or sent', async () => {
    const limited = await startSubscriberHarness({ limits: { perNetwork: { max: 100, windowSeconds: 600 }, perEmail: { max: 2, windowSeconds: 600 } } });
    try {
      const post = (email: string) => limited.api('/subscribe', { method: 'POST', json: { email }, headers: { authorization: '' } });
      expect((await post('rl@example.org')).status).toBe(202);
      expect((await post('RL@example.org')).status).toBe(202);
      const third = await post('rl@example.org');
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(third.headers.get('retry-after'))).toBeLessThanOrEqual(600);
      expect(((await third.json()) as Json).error!.code).toBe('request.rateLimited');
      expect(limited.mailTo('rl@example.org').length + limited.mailTo('RL@example.org').length).toBe(2);
      // Another address from the same client still works.
      expect((await post('other@example.org')).status).toBe(202);
      // The HTML form gets a page with Retry-After too.
      const form = await limited.postForm('/subscribe', { email: 'rl@example.org' });
      expect(form.status).toBe(429);
      expect(form.headers.get('retry-after')).toBeTruthy();
      expect(await form.text()).toContain('Too many attempts');
    } finally {
      await limited.stop();
    }
  });

  it('limits subscribe attempts per client network', async () => {
    const limited = await startSubscriberHarness({ limits: { perNetwork: { max: 3, windowSeconds: 600 }, perEmail: { max: 100, windowSeconds: 600 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await limited.api('/subscribe', { method: 'POST', json: { email: `c${i}@example.org` }, headers: { authorization: '' } })).status);
      expect(statuses).toEqual([202, 202, 202, 429, 429]);
      expect(await limited.repo.findByEmailHash(emailHash('c3@example.org'))).toBeUndefined();
    } finally {
      await limited.stop();
    }
  });

  it('trusts X-Forwarded-For only when configured, and then only the entry the trusted proxy added', async () => {
    const trusting = await startSubscriberHarness({
      trustedProxyHops: 1,
      limits: { perNetwork: { max: 1, windowSeconds: 600 }, perEmail: { max: 100, windowSeconds: 600 } },
    });
    try {
      const post = (email: string, xff: string) =>
        trusting.api('/subscribe', { method: 'POST', json: { email }, headers: { authorization: '', 'x-forwarded-for': xff } });
      expect((await post('x1@example.org', '203.0.113.7')).status).toBe(202);
      // A client cannot escape by prepending made-up entries: the proxy's entry (rightmost) counts.
      expect((await post('x2@example.org', '198.51.100.1, 203.0.113.7')).status).toBe(429);
      // Another network (same /24 would be the same network).
      expect((await post('x3@example.org', '198.51.100.8')).status).toBe(202);
    } finally {
      await trusting.stop();
    }
    const direct = await startSubscriberHarness({ limits: { perNetwork: { max: 1, windowSeconds: 600 }, perEmail: { max: 100, windowSeconds: 600 } } });
    try {
      const post = (email: string, xff: string) =>
        direct.api('/subscribe', { method: 'POST', json: { email }, headers: { authorization: '', 'x-forwarded-for': xff } });
      expect((await post('y1@example.org', '203.0.113.7')).status).toBe(202);
      // Not trusted: a different header value does not make a different client.
      expect((await post('y2@example.org', '203.0.113.9')).status).toBe(429);
    } finally {
      await direct.stop();
    }
  });
});
