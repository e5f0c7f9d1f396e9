import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { SESClient } from '@aws-sdk/client-ses';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { listOutbox, outboxMessagePaths } from '../../lambdas/local/outbox-store.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';
import { createOutboxApp } from '../../lambdas/local/outbox.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { FixedClock } from '../../lambdas/core/clock.ts';
import type { OutgoingEmail } from '../../lambdas/core/email/message.ts';

const clock = new FixedClock('2024-02-09T08:00:00.000Z');
let ses: SesEndpoint;
let client: SESClient;
let outboxDir: string;
const ids: string[] = [];

const email = (n: number): OutgoingEmail => ({
  from: { name: 'Thin Line News', address: 'news@news.example.com' },
  to: { name: `Reader ${n}`, address: `reader${n}@example.org` },
  subject: `Issue ${n}: Café — “quotes”`,
  html: `<!doctype html><html><body><p>Issue <b>${n}</b> with an image <img src="https://news.example.com/i.png" alt="x"></p><script>parent.pwned = true</script></body></html>`,
  text: `Issue ${n}\n${'A line long enough that quoted-printable encoding has to put a soft line break into it. '.repeat(2)}\n`,
  headers: { listUnsubscribeUrl: `https://news.example.com/u?t=${n}`, listId: 'Thin Line News <news.example.com>' },
  tags: { send: `snd_${n}` },
  configurationSet: 'inkwire-newsletter',
  messageStreamKind: 'newsletter',
});

beforeAll(async () => {
  outboxDir = mkdtempSync(join(tmpdir(), 'inkwire-outbox-page-'));
  ses = await startSesEndpoint({ outboxDir, clock });
  client = new SESClient({ endpoint: ses.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  const mailer = new SesMailer({ client, clock });
  // Five messages over three days, two of them in the same millisecond.
  for (const [n, at] of [
    [1, '2024-02-09T08:00:00.000Z'],
    [2, '2024-02-10T09:00:00.000Z'],
    [3, '2024-02-10T09:00:00.000Z'],
    [4, '2024-02-10T23:59:59.999Z'],
    [5, '2024-02-11T00:00:00.000Z'],
  ] as const) {
    clock.set(at);
    ids.push((await mailer.send(email(n))).messageId);
  }
});
afterAll(async () => {
  client?.destroy();
  await ses?.stop();
});

describe('outbox on disk', () => {
  it('files messages by day, with names that sort by arrival', () => {
    expect(outboxMessagePaths(outboxDir, ids[0]!).eml).toMatch(/\/2024-02-09\/20240209T080000000Z_[0-9a-f]{16}-[0-9a-f-]{36}-000000\.eml$/);
    expect(outboxMessagePaths(outboxDir, ids[4]!).dir).toBe(join(outboxDir, '2024-02-11'));
    expect([...ids].sort()).toEqual(ids);
    expect(() => outboxMessagePaths(outboxDir, '../../etc/passwd')).toThrow();
  });

  it('lists newest first, page by page, across days', async () => {
    const first = await listOutbox(outboxDir, { limit: 2 });
    expect(first.entries.map((e) => e.messageId)).toEqual([ids[4], ids[3]]);
    expect(first.entries[0]).toMatchObject({
      subject: 'Issue 5: Café — “quotes”',
      destinations: ['reader5@example.org'],
      configurationSet: 'inkwire-newsletter',
    });
    const second = await listOutbox(outboxDir, { limit: 2, before: first.next! });
    expect(second.entries.map((e) => e.messageId)).toEqual([ids[2], ids[1]]);
    const third = await listOutbox(outboxDir, { limit: 2, before: second.next! });
    expect(third.entries.map((e) => e.messageId)).toEqual([ids[0]]);
    expect(third.next).toBeUndefined();
  });

  it('reads only the day directories a page needs', async () => {
    // Not a directory: reading it would throw ENOTDIR.
    const dir = mkdtempSync(join(tmpdir(), 'inkwire-outbox-lazy-'));
    const s = await startSesEndpoint({ outboxDir: dir });
    try {
      writeFileSync(join(dir, '2000-01-01'), 'not a directory');
      const c = new SESClient({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' }, maxAttempts: 1 });
      await new SesMailer({ client: c }).send(email(9));
      c.destroy();
      expect((await listOutbox(dir, { limit: 1 })).entries).toHaveLength(1);
      await expect(listOutbox(dir, { limit: 5 })).rejects.toThrow(/ENOTDIR/);
    } finally {
      await s.stop();
    }
  });

  it('parses our own messages: encoded headers, quoted-printable text, html part', () => {
    const msg = parseMessage(readFileSync(outboxMessagePaths(outboxDir, ids[0]!).eml));
    expect(msg.header('subject')).toBe('Issue 1: Café — “quotes”');
    expect(msg.header('to')).toBe('Reader 1 <reader1@example.org>');
    expect(msg.text).toBe(email(1).text.replace(/\n/g, '\r\n'));
    expect(msg.html).toBe(email(1).html);
    expect(msg.parts.map((p) => p.contentType)).toEqual(['text/plain', 'text/html']);
  });
});

describe('outbox page', () => {
  const page = () => new Hono().route('/_dev/outbox', createOutboxApp(outboxDir));

  it('lists messages newest first with links to each message and to the next page', async () => {
    const res = await page().request('/_dev/outbox?limit=2');
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body.indexOf(ids[4]!)).toBeGreaterThan(-1);
    expect(body.indexOf(ids[4]!)).toBeLessThan(body.indexOf(ids[3]!));
    expect(body).not.toContain(ids[2]!);
    expect(body).toContain(`href="/_dev/outbox/${ids[4]}"`);
    expect(body).toContain(`href="/_dev/outbox/?before=${ids[3]}&amp;limit=2"`);
    expect(body).toContain('Issue 5: Café — “quotes”');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('shows one message: headers, text part, and the HTML part in a sandboxed frame', async () => {
    const res = await page().request(`/_dev/outbox/${ids[0]}`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('<h1>Issue 1: Café — “quotes”</h1>');
    expect(body).toMatch(/<iframe sandbox title="HTML part" src="\/_dev\/outbox\/[^"]+\/html">/);
    expect(body).toContain('List-Unsubscribe-Post');
    expect(body).toContain('A line long enough that quoted-printable');
    // The message's own markup is shown as text on this page, never run.
    expect(body).not.toContain('<script>parent.pwned');
  });

  it('serves the HTML part under a CSP that blocks scripts', async () => {
    const res = await page().request(`/_dev/outbox/${ids[0]}/html`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(email(1).html);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain('sandbox');
    expect(csp).not.toMatch(/script-src/);
  });

  it('serves the raw message byte for byte', async () => {
    const res = await page().request(`/_dev/outbox/${ids[1]}/raw`);
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(outboxMessagePaths(outboxDir, ids[1]!).eml))).toBe(true);
  });

  it('answers 404 for unknown or malformed ids', async () => {
    expect((await page().request('/_dev/outbox/0000000000000000-00000000-0000-0000-0000-000000000000-000000')).status).toBe(404);
    expect((await page().request('/_dev/outbox/..%2F..%2Fetc%2Fpasswd')).status).toBe(404);
    expect((await page().request('/_dev/outbox/nope/html')).status).toBe(404);
  });
});
