import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { aSubscriber } from '../support/subscribers.ts';
import { sesEvents, startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { emailHash, type Subscriber } from '../../lambdas/core/subscribers/schema.ts';
import { subscriberLinks } from '../../lambdas/core/subscribers/links.ts';
import { handleSesEvent } from '../../lambdas/core/subscribers/ses-events.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { createSesEventsHandler } from '../../lambdas/handlers/ses-events.ts';
import { handleProviderEvent, type ProviderEventDeps } from '../../lambdas/core/provider-events.ts';
import { snsEnvelope } from '../../lambdas/local/mailbox-simulator.ts';

let h: SubscriberHarness;
let deps: ProviderEventDeps;

beforeAll(async () => {
  h = await startSubscriberHarness({
    softBounceThreshold: 3,
    limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } },
  });
  deps = { subscribers: h.deps, reports: { sends: new DynamoSendRepository(h.doc, h.tableName) } };
});
afterAll(async () => {
  await h?.stop();
});

/** One SES event as the events queue delivers it (an SNS notification), to the SesEvents function's handler; its SNS message id. */
async function deliver(event: unknown, envelope = snsEnvelope(event, new Date())): Promise<string> {
  const out = await createSesEventsHandler(deps)({ Records: [{ messageId: randomUUID(), body: envelope } as SQSRecord] });
  expect(out.batchItemFailures).toEqual([]);
  return (JSON.parse(envelope) as { MessageId: string }).MessageId;
}
/** What the handling of one event did to its subscriber. */
const apply = async (event: unknown, id: string = randomUUID()) => (await handleProviderEvent(deps, id, event)).subscriber;

/** A confirmed subscriber written straight through the repository (the events handling is what is under test). */
async function confirmedSubscriber(email: string): Promise<Subscriber> {
  const now = new Date().toISOString();
  const s = aSubscriber(email, { id: `s${Math.random().toString(36).slice(2, 12)}`, status: 'confirmed', createdAt: now, confirmedAt: now });
  await h.repo.create(s);
  return s;
}

async function inAudience(s: Subscriber): Promise<boolean> {
  const out = await h.doc.send(
    new QueryCommand({
      TableName: h.tableName,
      IndexName: 'GSI2',
      KeyConditionExpression: 'GSI2PK = :pk',
      ExpressionAttributeValues: { ':pk': `AUD#${s.frequency}` },
    }),
  );
  return (out.Items ?? []).some((i) => i.id === s.id);
}

describe('SES events through the events queue', () => {
  it('a hard bounce suppresses the subscriber at once and takes it out of the audience', async () => {
    const s = await confirmedSubscriber('hard@example.org');
    expect(await inAudience(s)).toBe(true);
    expect(await apply(sesEvents.bounce('hard@example.org', 'Permanent', { subscriber_id: s.id, send_id: 'snd1' }))).toMatchObject({
      type: 'bounce',
      changes: [{ result: 'suppressed', subscriberId: s.id }],
    });
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'suppressed', suppressedReason: 'bounce' });
    expect(await h.repo.isSuppressed(emailHash('hard@example.org'))).toBe(true);
    expect(await inAudience(s)).toBe(false);
  });

  it('a complaint suppresses at once; matched by address when there is no tag; the form cannot resubscribe it', async () => {
    const s = await confirmedSubscriber('Complainer@Example.org');
    await deliver(sesEvents.complaint('complainer@example.org'));
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'suppressed', suppressedReason: 'complaint' });
    const again = await h.api('/subscribe', { method: 'POST', json: { email: 'complainer@example.org' }, headers: { authorization: '' } });
    expect(again.status).toBe(202);
    expect((await h.repo.get(s.id))!.status).toBe('suppressed');
    expect(h.mailTo('complainer@example.org')).toHaveLength(0);
  });

  it('a "not-spam" feedback is not a complaint', async () => {
    const s = await confirmedSubscriber('notspam@example.org');
    await deliver(sesEvents.complaint('notspam@example.org', {}, 'not-spam'));
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
  });

  it('soft bounces are counted and suppress at the threshold; a delivery resets the count', async () => {
    const s = await confirmedSubscriber('soft@example.org');
    const soft = () => deliver(sesEvents.bounce('soft@example.org', 'Transient', { subscriber_id: s.id }));
    await soft();
    await soft();
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'confirmed', softBounces: 2 });
    await deliver(sesEvents.delivery('soft@example.org', { subscriber_id: s.id }));
    expect((await h.repo.get(s.id))!.softBounces).toBe(0);
    await soft();
    await soft();
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'confirmed', softBounces: 2 });
    await soft();
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'suppressed', suppressedReason: 'softBounces', softBounces: 3 });
    expect(await h.repo.isSuppressed(emailHash('soft@example.org'))).toBe(true);
  });

  it('a replayed message changes nothing', async () => {
    const s = await confirmedSubscriber('replay@example.org');
    const event = sesEvents.bounce('replay@example.org', 'Transient', { subscriber_id: s.id });
    const envelope = snsEnvelope(event, new Date());
    const messageId = await deliver(event, envelope);
    const after = (await h.repo.get(s.id))!;
    expect(after.softBounces).toBe(1);
    await deliver(event, envelope);
    expect(await apply(event, messageId)).toMatchObject({ changes: [{ result: 'duplicate' }] });
    expect(await h.repo.get(s.id)).toEqual(after);
    const seen = (await h.doc.send(new GetCommand({ TableName: h.tableName, Key: keys.seen('sns', messageId) }))).Item!;
    expect(seen.expiresAt).toBeGreaterThan(Date.now() / 1000);
  });

  it('a tag naming another subscriber than the bounced address is not trusted', async () => {
    const victim = await confirmedSubscriber('victim@example.org');
    const bounced = await confirmedSubscriber('bounced@example.org');
    await deliver(sesEvents.bounce('bounced@example.org', 'Permanent', { subscriber_id: victim.id }));
    expect((await h.repo.get(victim.id))!.status).toBe('confirmed');
    expect((await h.repo.get(bounced.id))!.status).toBe('suppressed');
  });

  it('a hard bounce for an unknown address still suppresses its hash, so an import skips it', async () => {
    await deliver(sesEvents.bounce('stranger@example.org', 'Permanent'));
    expect(await h.repo.isSuppressed(emailHash('stranger@example.org'))).toBe(true);
  });

  it('mailto unsubscribe through SES receiving: the token in the subject unsubscribes', async () => {
    const s = await confirmedSubscriber('mailto@example.org');
    const mailto = subscriberLinks(h.deps.site, h.signer, s.id, new Date(), 'unsubscribe@news.example.com').unsubscribeMailto!;
    const subject = decodeURIComponent(mailto.split('subject=')[1]!);
    await deliver(sesEvents.received(subject));
    expect((await h.repo.get(s.id))!.status).toBe('unsubscribed');
    // A forged token is ignored (not retried: it can never succeed).
    await deliver(sesEvents.received('unsubscribe abc.def'));
    expect(await apply(sesEvents.received('unsubscribe abc.def'))).toMatchObject({ type: 'ignored' });
  });

  it('mailto unsubscribe: a database failure while unsubscribing leaves the message to be retried, and a replay after it changes nothing', async () => {
    const s = await confirmedSubscriber('mailto-retry@example.org');
    const mailto = subscriberLinks(h.deps.site, h.signer, s.id, new Date(), 'unsubscribe@news.example.com').unsubscribeMailto!;
    const event = sesEvents.received(decodeURIComponent(mailto.split('subject=')[1]!));
    // Stand-in for a failure at an exact moment (DynamoDB Local cannot be made to fail one write): the
    // unsubscribe's write throws once.
    let failures = 1;
    const repo = new Proxy(h.repo, {
      get(target, prop, receiver) {
        if (prop === 'update' && failures > 0) {
          return async () => {
            failures--;
            throw new Error('write failed');
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const deps = { ...h.deps, subscribers: repo };
    await expect(handleSesEvent(deps, 'sns-mailto-retry', event)).rejects.toThrow('write failed');
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
    // SNS delivers the message again: now it unsubscribes.
    expect(await handleSesEvent(deps, 'sns-mailto-retry', event)).toMatchObject({ type: 'received', changes: [{ result: 'unsubscribed' }] });
    expect((await h.repo.get(s.id))!.status).toBe('unsubscribed');
    // They subscribe again; an old copy of the same message must not unsubscribe them a second time.
    const back = (await h.repo.get(s.id))!;
    await h.repo.update({ ...back, status: 'confirmed', version: back.version + 1 }, back);
    expect(await handleSesEvent(deps, 'sns-mailto-retry', event)).toMatchObject({ type: 'received', changes: [{ result: 'duplicate' }] });
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
  });
});
