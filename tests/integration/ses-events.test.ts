import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SQSRecord } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';
import { createSesEventsHandler } from '../../lambdas/handlers/ses-events.ts';
import { providerEventDeps } from '../../lambdas/compose/provider-events.ts';
import { simulatedEvents, snsEnvelope } from '../../lambdas/local/mailbox-simulator.ts';
import type { OutboxSidecar } from '../../lambdas/local/outbox-store.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { GetSuppressedDestinationCommand, PutSuppressedDestinationCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { SesSuppressionList } from '../../lambdas/adapters/ses/suppression-list.ts';

const SIM = (local: string) => `${local}@simulator.amazonses.com`;

let rtRef: TestRuntime | undefined;
const sesV2 = () => new SESv2Client({ endpoint: rtRef!.sesEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
/** The runtime's SES account-level suppression list, through the SES v2 client as in AWS. */
const sesList = () => new SesSuppressionList(sesV2());
/** The reason SES's list gives for an address, or undefined when it is not on it. */
async function onSesList(address: string): Promise<string | undefined> {
  try {
    return (await sesV2().send(new GetSuppressedDestinationCommand({ EmailAddress: address }))).SuppressedDestination?.Reason;
  } catch (e) {
    if ((e as { name?: string }).name === 'NotFoundException') return undefined;
    throw e;
  }
}

/**
 * SES's events, end to end in the local runtime (what `npm start` runs): the local SES endpoint publishes
 * what SES's mailbox simulator would for each accepted message, through the events queue to the same
 * handler as the SesEvents function in AWS.
 */
/** The text of the newest confirmation email to `address` in the runtime's outbox. */
async function confirmationTo(rt: TestRuntime, address: string): Promise<string | undefined> {
  let found: string | undefined;
  for (const day of await readdir(rt.outboxDir)) {
    for (const name of (await readdir(join(rt.outboxDir, day))).filter((n) => n.endsWith('.json')).sort()) {
      const s = JSON.parse(await readFile(join(rt.outboxDir, day, name), 'utf8')) as OutboxSidecar;
      if (s.destinations.includes(address) && s.tags.kind === 'confirm')
        found = (await readFile(join(rt.outboxDir, day, name.replace(/\.json$/, '.eml')), 'utf8')).replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    }
  }
  return found;
}

describe('SES events from the mailbox simulator addresses, through the local runtime', () => {
  let rt: TestRuntime;
  type ReportedSend = { id: string; status: string; counts: Record<string, number>; reported: { delivered: number; hardBounced: number; complained: number } };
  let simulated: Promise<ReportedSend> | undefined;

  /**
   * One alert to a subscriber at each mailbox simulator address, completed with SES's reports in: made by
   * whichever test needs it first (so each test also runs alone) and once for all of them.
   */
  function simulatedSend(): Promise<ReportedSend> {
    simulated ??= (async () => {
      const csv = [
        'email,name,frequency,topics',
        ...['success', 'bounce', 'complaint', 'ooto', 'suppressionlist', 'bounce+second'].map((l) => `${SIM(l)},,instant,`),
      ].join('\n');
      const imported = await rt.api('/api/subscribers/import?consent=confirmed', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: `${csv}\n` });
      expect(imported.status).toBe(200);
      const article = await rt.api('/api/articles', {
        method: 'POST',
        json: { title: 'Simulated mail', body: 'Bounces and complaints.', status: 'published' },
      });
      expect(article.status).toBe(201);
      const articleId = (await article.json()).id as string;

      const deadline = Date.now() + 30_000;
      for (;;) {
        const list = (await (await rt.api('/api/sends?limit=10')).json()).items as (ReportedSend & { articleId?: string })[];
        const send = list.find((s) => s.articleId === articleId);
        if (send?.status === 'completed' && send.reported.delivered + send.reported.hardBounced >= 6 && send.reported.complained >= 1) return send;
        if (Date.now() > deadline) throw new Error(`the send's reports did not arrive: ${JSON.stringify(send)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return simulated;
  }

  beforeAll(async () => {
    rt = await startTestRuntime();
    rtRef = rt;
  }, 60_000);
  afterAll(async () => {
    await rt?.cleanup();
  });

  it('suppresses the bounced and complaining subscribers, and counts what SES reported on the send', async () => {
    const send = await simulatedSend();
    expect(send.counts).toMatchObject({ planned: 6, submitted: 6, uncertain: 0 });
    // success, complaint (delivered, then complained) and ooto are delivered; bounce, bounce+second and suppressionlist bounce for good.
    expect(send.reported).toEqual({ delivered: 3, hardBounced: 3, softBounced: 0, complained: 1, rejected: 0, delayed: 0 });
    // The send's own page says the same.
    expect((await (await rt.api(`/api/sends/${send.id}`)).json()).reported).toEqual(send.reported);

    // Only the simulator's addresses: another test may add subscribers of its own.
    const simulator = (s: { email: string }) => s.email.endsWith('@simulator.amazonses.com');
    const suppressed = (await (await rt.api('/api/subscribers?status=suppressed&limit=100')).json()).items as { email: string; suppressedReason?: string }[];
    expect(Object.fromEntries(suppressed.filter(simulator).map((s) => [s.email, s.suppressedReason]))).toEqual({
      [SIM('bounce')]: 'bounce',
      [SIM('bounce+second')]: 'bounce',
      [SIM('suppressionlist')]: 'bounce',
      [SIM('complaint')]: 'complaint',
    });
    const confirmed = (await (await rt.api('/api/subscribers?status=confirmed&limit=100')).json()).items as { email: string }[];
    expect(
      confirmed
        .filter(simulator)
        .map((s) => s.email)
        .sort(),
    ).toEqual([SIM('ooto'), SIM('success')]);
    // SES's account-level list holds them too, so no mail from the account reaches them whatever sends it.
    expect(await onSesList(SIM('bounce'))).toBe('BOUNCE');
    expect(await onSesList(SIM('complaint'))).toBe('COMPLAINT');
    expect(await onSesList(SIM('success'))).toBeUndefined();
  }, 60_000);

  it('keeps SES\u2019s account-level suppression list in step: an erasure adds, a fresh confirmation lifts, an address SES suppressed is suppressed here', async () => {
    // An address someone put on SES's list (the console, another tool) is suppressed here once mailed.
    await sesV2().send(new PutSuppressedDestinationCommand({ EmailAddress: 'listed@example.org', Reason: 'BOUNCE' }));
    // And one a reader asks to be erased goes onto SES's list.
    const csv = 'email,name,frequency,topics\nlisted@example.org,,instant,\nerase-me@example.org,,instant,\n';
    expect((await rt.api('/api/subscribers/import?consent=confirmed', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv })).status).toBe(
      200,
    );
    const all = (await (await rt.api('/api/subscribers?limit=100')).json()).items as { id: string; email: string; status: string; suppressedReason?: string }[];
    const eraseMe = all.find((s) => s.email === 'erase-me@example.org')!;
    expect((await rt.api(`/api/subscribers/${eraseMe.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await onSesList('erase-me@example.org')).toBe('BOUNCE');

    const article = await rt.api('/api/articles', { method: 'POST', json: { title: 'To the listed', body: 'Anyone there?', status: 'published' } });
    const articleId = (await article.json()).id as string;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = (
        (await (await rt.api('/api/sends?limit=10')).json()).items as { articleId?: string; status: string; reported: { hardBounced: number } }[]
      ).find((x) => x.articleId === articleId);
      if (s?.status === 'completed' && s.reported.hardBounced >= 1) break;
      if (Date.now() > deadline) throw new Error(`no bounce reported: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const listed = ((await (await rt.api('/api/subscribers?status=suppressed&limit=100')).json()).items as { email: string; suppressedReason?: string }[]).find(
      (s) => s.email === 'listed@example.org',
    );
    expect(listed?.suppressedReason).toBe('bounce');

    // The erased reader subscribes again: the confirmation email still arrives (the transactional
    // configuration set does not honour the list's bounce reason), and confirming takes the address off it.
    expect(
      (
        await fetch(`${rt.url}/subscribe`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'erase-me@example.org' }),
        })
      ).status,
    ).toBe(202);
    let token: string | undefined;
    for (let i = 0; i < 100 && !token; i++) {
      token = /confirm\?token=([A-Za-z0-9._~-]+)/.exec((await confirmationTo(rt, 'erase-me@example.org')) ?? '')?.[1];
      if (!token) await new Promise((r) => setTimeout(r, 100));
    }
    expect(token).toBeDefined();
    const confirmed = await fetch(`${rt.url}/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${token}`,
      redirect: 'manual',
    });
    expect(confirmed.status, await confirmed.clone().text()).toBeLessThan(400);
    expect(await onSesList('erase-me@example.org')).toBeUndefined();
    const back = ((await (await rt.api('/api/subscribers?limit=100')).json()).items as { email: string; status: string }[]).find(
      (s) => s.email === 'erase-me@example.org',
    );
    expect(back?.status).toBe('confirmed');
  }, 60_000);

  it('changes nothing when an event is delivered again, with the same SNS message or a new one', async () => {
    // The events of the send's messages, rebuilt from the outbox as the simulator built them, handled again
    // by the events handler on the same table: twice with the same SNS envelope, once with a fresh one.
    const sendId = (await simulatedSend()).id;
    const sidecars: OutboxSidecar[] = [];
    for (const day of await readdir(rt.outboxDir)) {
      for (const name of (await readdir(join(rt.outboxDir, day))).filter((n) => n.endsWith('.json'))) {
        const s = JSON.parse(await readFile(join(rt.outboxDir, day, name), 'utf8')) as OutboxSidecar;
        if (s.tags.send_id === sendId) sidecars.push(s);
      }
    }
    expect(sidecars).toHaveLength(6);
    const envelopes = sidecars.flatMap((s) => simulatedEvents(s, new Date()).map((e) => snsEnvelope(e, new Date())));
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: rt.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    const tokenSecret = (await readFile(join(rt.dataDir, 'token-secret'), 'utf8')).trim();
    const handle = createSesEventsHandler(
      providerEventDeps({ DEFAULT_FREQUENCY: 'weekly', SOFT_BOUNCE_THRESHOLD: 3 }, doc, rt.tableName, systemClock, tokenSecret, sesList(), () => undefined),
    );
    const before = await (await rt.api(`/api/sends/${sendId}`)).json();
    const subscribersBefore = await (await rt.api('/api/subscribers?limit=100')).json();
    for (const bodies of [envelopes, envelopes, envelopes.map((b) => snsEnvelope(JSON.parse(JSON.parse(b).Message as string), new Date()))]) {
      const out = await handle({ Records: bodies.map((body, i) => ({ messageId: `r${i}`, body }) as SQSRecord) });
      expect(out.batchItemFailures).toEqual([]);
    }
    const after = await (await rt.api(`/api/sends/${sendId}`)).json();
    expect(after.reported).toEqual(before.reported);
    expect(after.counts).toEqual(before.counts);
    expect(await (await rt.api('/api/subscribers?limit=100')).json()).toEqual(subscribersBefore);
  });

  it('reports a message that is not an SNS notification as failed, so it ends in the dead-letter queue instead of vanishing', async () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: rt.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    const handle = createSesEventsHandler(
      providerEventDeps({ DEFAULT_FREQUENCY: 'weekly', SOFT_BOUNCE_THRESHOLD: 3 }, doc, rt.tableName, systemClock, 'x'.repeat(43), sesList(), () => undefined),
    );
    const out = await handle({
      Records: [
        { messageId: 'a', body: 'not json' },
        { messageId: 'b', body: JSON.stringify({ Type: 'SubscriptionConfirmation' }) },
        { messageId: 'c', body: snsEnvelope({ eventType: 'Open', mail: {} }, new Date()) },
      ] as SQSRecord[],
    });
    // An event type nothing acts on (SES publishes opens only when asked; Inkwire does not ask) is handled, not failed.
    expect(out.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['a', 'b']);
  });
});
