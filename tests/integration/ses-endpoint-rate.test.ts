/**
 * The local SES endpoint as an account with a sending rate and a daily quota, driven by the unmodified
 * SESClient. Most tests run it on a hand-moved time, so that every window edge is exact; two run it on a
 * ScaledTime shared with the sender, as the delivery engine's proofs do.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSendQuotaCommand, SendEmailCommand, SendRawEmailCommand, SESClient } from '@aws-sdk/client-ses';
import { startSesEndpoint, type SesEndpoint, type SesEndpointOptions } from '../../lambdas/local/ses-endpoint.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { MailerThrottledError, type OutgoingEmail } from '../../lambdas/core/email/message.ts';
import { ScaledTime, type TimeSource } from '../../lambdas/core/clock.ts';

const T0 = Date.parse('2024-03-04T08:00:00.000Z');
const HOUR = 3_600_000;

/** Time that moves only when told to. */
class ManualTime implements TimeSource {
  constructor(private t: number) {}
  nowMs(): number {
    return this.t;
  }
  now(): Date {
    return new Date(this.t);
  }
  async sleep(ms: number): Promise<void> {
    this.t += Math.max(0, ms);
  }
  set(ms: number): void {
    this.t = ms;
  }
}

interface Rig {
  ses: SesEndpoint;
  client: SESClient;
  outboxDir: string;
}

async function start(options: Omit<SesEndpointOptions, 'outboxDir'>): Promise<Rig> {
  const outboxDir = mkdtempSync(join(tmpdir(), 'inkwire-outbox-rate-'));
  const ses = await startSesEndpoint({ outboxDir, ...options });
  const client = new SESClient({ endpoint: ses.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  onTestFinished(async () => {
    client.destroy();
    await ses.stop();
  });
  return { ses, client, outboxDir };
}

const emlFiles = (dir: string) => readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.eml')).length;

let n = 0;
/** One SendRawEmail to `count` destinations; resolves to 'ok' or to the SDK's error. */
function sendRaw(client: SESClient, count = 1): Promise<'ok' | (Error & { $metadata?: { httpStatusCode?: number } })> {
  const id = ++n;
  const raw = Buffer.from(`From: news@news.example.com\r\nTo: r${id}@example.org\r\nSubject: m${id}\r\n\r\nbody ${id}\r\n`);
  const destinations = Array.from({ length: count }, (_, i) => `r${id}.${i}@example.org`);
  return client.send(new SendRawEmailCommand({ RawMessage: { Data: raw }, Destinations: destinations })).then(
    () => 'ok' as const,
    (e: Error) => e,
  );
}

const outcome = (r: Awaited<ReturnType<typeof sendRaw>>) => (r === 'ok' ? 'ok' : `${r.name}: ${r.message}`);
const RATE = 'Throttling: Maximum sending rate exceeded.';
const DAILY = 'Throttling: Daily message quota exceeded.';

const sentLast24Hours = async (client: SESClient) => (await client.send(new GetSendQuotaCommand({}))).SentLast24Hours;

/** Most entries of ascending `times` within any [a, a + 1000): written independently of the endpoint's. */
function maxInAnySecond(times: readonly number[]): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j]! < times[i]! + 1000) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

const newsletter = (): OutgoingEmail => ({
  from: { name: 'Thin Line News', address: 'news@news.example.com' },
  to: { address: 'ada@example.org' },
  subject: 'Today',
  html: '<p>Hello</p>',
  text: 'Hello\n',
  headers: { listUnsubscribeUrl: 'https://news.example.com/u?t=1', listId: 'Thin Line News <news.example.com>' },
  tags: { send: 'snd_1' },
  configurationSet: 'inkwire-newsletter',
  messageStreamKind: 'newsletter',
});

describe('sending rate (enforceRate)', () => {
  it('refuses a send over the rate with SES Throttling, stores nothing and counts each destination', async () => {
    const time = new ManualTime(T0);
    const { ses, client, outboxDir } = await start({ time, enforceRate: true, quota: { maxSendRate: 5 } });
    expect(await sendRaw(client, 3)).toBe('ok');
    const viaSendEmail = await client.send(
      new SendEmailCommand({
        Source: 'news@news.example.com',
        Destination: { ToAddresses: ['a@example.org'], CcAddresses: ['b@example.org'] },
        Message: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } },
      }),
    );
    expect(viaSendEmail.MessageId).toBeTruthy();
    time.set(T0 + 999);
    const refused = await sendRaw(client, 1);
    expect(outcome(refused)).toBe(RATE);
    expect(refused !== 'ok' && refused.$metadata?.httpStatusCode).toBe(400);
    // The same refusal for SendEmail, and as the mailer sees it.
    await expect(
      client.send(
        new SendEmailCommand({
          Source: 'news@news.example.com',
          Destination: { ToAddresses: ['c@example.org'] },
          Message: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } },
        }),
      ),
    ).rejects.toMatchObject({ name: 'Throttling', message: 'Maximum sending rate exceeded.' });
    const mailerError = await new SesMailer({ client, clock: time }).send(newsletter()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(mailerError).toBeInstanceOf(MailerThrottledError);
    expect(mailerError).toMatchObject({ reason: 'rate', code: 'Throttling' });
    // The wire: SES's XML error shape.
    const res = await fetch(ses.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=SendRawEmail&Version=2010-12-01&Destinations.member.1=x%40example.org&RawMessage.Data=${encodeURIComponent(Buffer.from('From: a@news.example.com\r\n\r\nx').toString('base64'))}`,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/<Error>\s*<Type>Sender<\/Type>\s*<Code>Throttling<\/Code>\s*<Message>Maximum sending rate exceeded\.<\/Message>/);

    expect(emlFiles(outboxDir)).toBe(2);
    expect(await sentLast24Hours(client)).toBe(5);
    expect(ses.stats()).toMatchObject({
      accepted: 2,
      acceptedRecipients: 5,
      throttled: 4,
      throttledRate: 4,
      throttledDailyQuota: 0,
      throttledInjected: 0,
      maxPerSecond: 5,
    });
    expect(ses.acceptedAt).toEqual([T0, T0, T0, T0, T0]);

    // More destinations than a second allows can never go, even into an empty window.
    time.set(T0 + 10_000);
    expect(outcome(await sendRaw(client, 6))).toBe(RATE);
    expect(await sendRaw(client, 5)).toBe('ok');
  });

  it('throttles nothing at the rate: the limit is floor(maxSendRate) per sliding second, at least 1', async () => {
    const time = new ManualTime(T0);
    const { ses, client } = await start({ time, enforceRate: true, quota: { maxSendRate: 5.9 } });
    expect(ses.account()).toMatchObject({ maxSendRate: 5.9, perSecondLimit: 5, enforceRate: true });
    expect((await client.send(new GetSendQuotaCommand({}))).MaxSendRate).toBe(5.9);
    // Five a second, evenly, for three seconds: each message exactly one second after its counterpart.
    for (let i = 0; i < 15; i++) {
      time.set(T0 + i * 200);
      expect(await sendRaw(client), `message ${i}`).toBe('ok');
    }
    expect(ses.stats()).toMatchObject({ accepted: 15, throttled: 0, maxPerSecond: 5 });
    expect(ses.account()).toMatchObject({ sentLast24Hours: 15 });

    const slow = await start({ time, enforceRate: true, quota: { maxSendRate: 0.2 } });
    expect(slow.ses.account().perSecondLimit).toBe(1);
    expect(await sendRaw(slow.client)).toBe('ok');
    expect(outcome(await sendRaw(slow.client))).toBe(RATE);
  });

  it('slides the window: what was accepted leaves it exactly 1000 ms later', async () => {
    const time = new ManualTime(T0);
    const { ses, client } = await start({ time, enforceRate: true, quota: { maxSendRate: 5 } });
    expect(await sendRaw(client, 5)).toBe('ok');
    time.set(T0 + 999);
    expect(outcome(await sendRaw(client))).toBe(RATE);
    time.set(T0 + 1000);
    expect(await sendRaw(client, 3)).toBe('ok');
    time.set(T0 + 1500);
    expect(await sendRaw(client, 2)).toBe('ok');
    expect(outcome(await sendRaw(client))).toBe(RATE);
    time.set(T0 + 2000); // the three from T0+1000 have left; the two from T0+1500 have not
    expect(await sendRaw(client, 3)).toBe('ok');
    expect(outcome(await sendRaw(client))).toBe(RATE);
    expect(ses.stats()).toMatchObject({ throttledRate: 3, maxPerSecond: 5, acceptedRecipients: 13 });
    expect(maxInAnySecond(ses.acceptedAt)).toBe(5);
  });

  it('holds in every window, not only the one ending at the request (requests can arrive out of order)', async () => {
    const time = new ManualTime(T0 + 10_000);
    const { ses, client } = await start({ time, enforceRate: true, quota: { maxSendRate: 5 } });
    expect(await sendRaw(client, 5)).toBe('ok');
    time.set(T0 + 9_500); // [9500, 10500) would hold six
    expect(outcome(await sendRaw(client))).toBe(RATE);
    time.set(T0 + 9_000); // [9000, 10000) holds none of them: the later five are exactly 1000 ms on
    expect(await sendRaw(client)).toBe('ok');
    expect(ses.acceptedAt).toEqual([T0 + 9_000, ...Array(5).fill(T0 + 10_000)]);
    expect(ses.stats().maxPerSecond).toBe(5);
  });

  it('lets exactly the limit through when many requests arrive at once', async () => {
    const time = new ManualTime(T0);
    const { ses, client, outboxDir } = await start({ time, enforceRate: true, quota: { maxSendRate: 5 } });
    const results = await Promise.all(Array.from({ length: 20 }, () => sendRaw(client)));
    expect(results.filter((r) => r === 'ok')).toHaveLength(5);
    expect(results.filter((r) => r !== 'ok').map(outcome)).toEqual(Array(15).fill(RATE));
    expect(emlFiles(outboxDir)).toBe(5);
    expect(ses.stats()).toMatchObject({ accepted: 5, throttledRate: 15, maxPerSecond: 5 });
  });

  it('is off by default: the rate is reported, and the peak is still measured', async () => {
    const time = new ManualTime(T0);
    const { ses, client } = await start({ time, quota: { maxSendRate: 14 } });
    expect(await sendRaw(client, 20)).toBe('ok');
    time.set(T0 + 500);
    expect(await sendRaw(client, 20)).toBe('ok');
    expect(ses.stats()).toMatchObject({ throttled: 0, accepted: 2, maxPerSecond: 40 });
    expect(ses.account()).toMatchObject({ enforceRate: false, maxSendRate: 14 });
  });

  it('is switched on and changed at run time through POST /_inkwire/account', async () => {
    const time = new ManualTime(T0);
    const { ses, client } = await start({ time });
    expect(await sendRaw(client, 3)).toBe('ok');

    const post = (body: unknown) => fetch(`${ses.url}/_inkwire/account`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    for (const bad of [
      { maxSendRate: -1 },
      { maxSendRate: 0 },
      { enforceRate: 'yes' },
      { max24HourSend: -5 },
      { sentLast24Hours: -1 },
      { maxSendrate: 2 },
      '[1]',
      'not json',
    ]) {
      const res = await post(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(((await res.json()) as { message: string }).message).toBeTruthy();
    }
    expect(ses.account()).toMatchObject({ enforceRate: false, maxSendRate: 14, max24HourSend: 1_000_000, sentLast24Hours: 3 });

    const res = await post({ enforceRate: true, maxSendRate: 2 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ maxSendRate: 2, max24HourSend: 1_000_000, sentLast24Hours: 3, enforceRate: true, perSecondLimit: 2 });
    expect((await client.send(new GetSendQuotaCommand({}))).MaxSendRate).toBe(2);
    expect(outcome(await sendRaw(client))).toBe(RATE); // the three already in this second count
    time.set(T0 + 1000);
    expect(await sendRaw(client, 2)).toBe('ok');
    expect(outcome(await sendRaw(client))).toBe(RATE);
    expect(await (await fetch(`${ses.url}/_inkwire/account`)).json()).toMatchObject({ enforceRate: true, perSecondLimit: 2, sentLast24Hours: 5 });

    expect((await post({ enforceRate: false })).status).toBe(200);
    expect(await sendRaw(client, 10)).toBe('ok');
    expect(ses.stats()).toMatchObject({ throttledRate: 2, maxPerSecond: 12 });
  });
});

describe('daily quota', () => {
  it('seeds sentLast24Hours, reports it in GetSendQuota and refuses above Max24HourSend until it slides out', async () => {
    const time = new ManualTime(T0);
    const { ses, client, outboxDir } = await start({ time, quota: { max24HourSend: 100 } });
    const res = await fetch(`${ses.url}/_inkwire/account`, { method: 'POST', body: JSON.stringify({ sentLast24Hours: 98 }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sentLast24Hours: 98, max24HourSend: 100 });
    expect(await client.send(new GetSendQuotaCommand({}))).toMatchObject({ SentLast24Hours: 98, Max24HourSend: 100 });

    time.set(T0 + HOUR);
    expect(await sendRaw(client, 2)).toBe('ok');
    expect(await sentLast24Hours(client)).toBe(100);
    expect(outcome(await sendRaw(client))).toBe(DAILY);
    const mailerError = await new SesMailer({ client, clock: time }).send(newsletter()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(mailerError).toMatchObject({ reason: 'dailyQuota' });
    expect(emlFiles(outboxDir)).toBe(1);
    expect(ses.stats()).toMatchObject({ accepted: 1, throttled: 2, throttledDailyQuota: 2, throttledRate: 0, sentLast24Hours: 100 });

    // The seed counts as sent when it was set: a day later it is gone, the two sent an hour after it are not.
    time.set(T0 + 24 * HOUR - 1);
    expect(await sentLast24Hours(client)).toBe(100);
    expect(outcome(await sendRaw(client))).toBe(DAILY);
    time.set(T0 + 24 * HOUR + 60_000);
    expect(await sentLast24Hours(client)).toBe(2);
    expect(await sendRaw(client, 50)).toBe('ok');
    expect(await sentLast24Hours(client)).toBe(52);
    time.set(T0 + 25 * HOUR + 60_000);
    expect(await sentLast24Hours(client)).toBe(50);
    expect(ses.stats().sentLast24Hours).toBe(50);
  });

  it('takes the seed as an option too, and a value replaces the count rather than adding to it', async () => {
    const time = new ManualTime(T0);
    const { ses, client } = await start({ time, quota: { max24HourSend: 10, sentLast24Hours: 9 } });
    expect(await sentLast24Hours(client)).toBe(9);
    expect(outcome(await sendRaw(client, 2))).toBe(DAILY);
    expect(await sendRaw(client, 1)).toBe('ok');
    expect(ses.setAccount({ sentLast24Hours: 4 })).toMatchObject({ sentLast24Hours: 4 });
    expect(await sentLast24Hours(client)).toBe(4);
    expect(await sendRaw(client, 6)).toBe('ok');
    expect(outcome(await sendRaw(client))).toBe(DAILY);
    ses.setAccount({ max24HourSend: -1 });
    expect(await sendRaw(client, 50)).toBe('ok');
    expect((await client.send(new GetSendQuotaCommand({}))).Max24HourSend).toBe(-1);
  });
});

describe('stats for proofs', () => {
  it('GET /_inkwire/stats reports the peak second and the throttles by reason; the accept times on request', async () => {
    const time = new ManualTime(T0);
    const { ses, client } = await start({ time, quota: { max24HourSend: 12 } });
    expect(await sendRaw(client, 3)).toBe('ok');
    time.set(T0 + 500);
    expect(await sendRaw(client, 4)).toBe('ok');
    time.set(T0 + 1200);
    expect(await sendRaw(client, 2)).toBe('ok');
    expect(outcome(await sendRaw(client, 4))).toBe(DAILY);
    ses.setFaults({ throttleShare: 1 });
    expect(outcome(await sendRaw(client))).toBe(RATE);
    ses.setFaults({});
    ses.setAccount({ enforceRate: true, maxSendRate: 6 });
    expect(outcome(await sendRaw(client))).toBe(RATE); // [T0+500, T0+1500) already holds six

    const stats = await (await fetch(`${ses.url}/_inkwire/stats`)).json();
    expect(stats).toEqual({
      accepted: 3,
      acceptedRecipients: 9,
      throttled: 3,
      throttledInjected: 1,
      throttledRate: 1,
      throttledDailyQuota: 1,
      rejected: 0,
      sentLast24Hours: 9,
      maxPerSecond: 7,
      firstAcceptedAt: new Date(T0).toISOString(),
      lastAcceptedAt: new Date(T0 + 1200).toISOString(),
    });
    expect(ses.stats()).toEqual(stats);
    const times = [T0, T0, T0, ...Array(4).fill(T0 + 500), T0 + 1200, T0 + 1200];
    expect(ses.acceptedAt).toEqual(times);
    expect(((await (await fetch(`${ses.url}/_inkwire/stats?acceptedAt=1`)).json()) as { acceptedAt: number[] }).acceptedAt).toEqual(times);
  });
});

describe('on a ScaledTime shared with the sender (factor 50)', () => {
  it('a sender pacing itself at the rate is never throttled', async () => {
    const time = new ScaledTime(50);
    const { ses, client } = await start({ time, enforceRate: true, quota: { maxSendRate: 10 } });
    const gap = 1000 / 10;
    let last = -Infinity;
    for (let i = 0; i < 25; i++) {
      // Wait on the shared time (not on the timer alone): the next request leaves a full gap after the
      // last answer, so it arrives more than a gap after the last arrival.
      while (time.nowMs() - last < gap) await time.sleep(gap - (time.nowMs() - last));
      expect(await sendRaw(client), `message ${i}`).toBe('ok');
      last = time.nowMs();
    }
    const stats = ses.stats();
    expect(stats).toMatchObject({ accepted: 25, throttled: 0 });
    expect(stats.maxPerSecond).toBeLessThanOrEqual(10);
    expect(maxInAnySecond(ses.acceptedAt)).toBe(stats.maxPerSecond);
    expect(ses.acceptedAt.at(-1)! - ses.acceptedAt[0]!).toBeGreaterThanOrEqual(24 * gap);
  });

  it('a sender pushing as hard as it can gets the rate and no more, second after second', async () => {
    const time = new ScaledTime(50);
    const { ses, client, outboxDir } = await start({ time, enforceRate: true, quota: { maxSendRate: 5 } });
    const deadline = Date.now() + 20_000;
    const worker = async () => {
      while (ses.stats().accepted < 20 && Date.now() < deadline) {
        const r = await sendRaw(client);
        if (r !== 'ok' && outcome(r) !== RATE) throw r;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const stats = ses.stats();
    expect(stats.accepted).toBeGreaterThanOrEqual(20);
    expect(stats.throttledRate).toBeGreaterThan(0);
    expect(stats.maxPerSecond).toBe(5);
    const times = ses.acceptedAt;
    expect(maxInAnySecond(times)).toBe(5);
    // Twenty at five a second cannot fit in less than three seconds: the window slid.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3000);
    expect(emlFiles(outboxDir)).toBe(stats.accepted);
  });
});
