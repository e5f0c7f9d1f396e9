import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  TOPIC_ARN,
  fakeCertificateFetcher,
  makeCertificate,
  snsNotification,
  snsSubscriptionConfirmation,
  sesEvents,
  signSns,
  startSubscriberHarness,
  type SubscriberHarness,
} from '../support/subscriber-harness.ts';
import { emailHash, type Subscriber } from '../../lambdas/core/subscribers/schema.ts';
import { subscriberLinks } from '../../lambdas/core/subscribers/links.ts';
import { handleSesEvent } from '../../lambdas/core/subscribers/ses-events.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

let h: SubscriberHarness;
let cert: { certPem: string; keyPem: string };
let forger: { certPem: string; keyPem: string };
let fetcher: ReturnType<typeof fakeCertificateFetcher>;

beforeAll(async () => {
  cert = makeCertificate();
  forger = makeCertificate();
  fetcher = fakeCertificateFetcher(cert.certPem);
  h = await startSubscriberHarness({ sns: { certificates: fetcher }, softBounceThreshold: 3, limits: { perClient: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } } });
});
afterAll(async () => {
  await h?.stop();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.url}/webhooks/ses`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers } });

/** A confirmed subscriber written straight through the repository (the webhook is what is under test). */
async function confirmedSubscriber(email: string): Promise<Subscriber> {
  const now = new Date().toISOString();
  const s: Subscriber = {
    id: `s${Math.random().toString(36).slice(2, 12)}`,
    email,
    emailHash: emailHash(email),
    status: 'confirmed',
    frequency: 'daily',
    topics: [],
    paused: false,
    createdAt: now,
    confirmedAt: now,
    updatedAt: now,
    softBounces: 0,
    source: 'form',
    version: 1,
  };
  await h.repo.create(s);
  return s;
}

async function inAudience(s: Subscriber): Promise<boolean> {
  const out = await h.doc.send(new QueryCommand({ TableName: h.tableName, IndexName: 'GSI2', KeyConditionExpression: 'GSI2PK = :pk', ExpressionAttributeValues: { ':pk': `AUD#${s.frequency}` } }));
  return (out.Items ?? []).some((i) => i.id === s.id);
}

describe('SES events through SNS', () => {
  it('a hard bounce suppresses the subscriber at once and takes it out of the audience', async () => {
    const s = await confirmedSubscriber('hard@example.org');
    expect(await inAudience(s)).toBe(true);
    const res = await post(snsNotification(cert.keyPem, sesEvents.bounce('hard@example.org', 'Permanent', { subscriber_id: s.id, send_id: 'snd1' })), { 'x-amz-sns-message-type': 'Notification' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'bounce', changes: [{ result: 'suppressed', subscriberId: s.id }] });
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'suppressed', suppressedReason: 'bounce' });
    expect(await h.repo.isSuppressed(emailHash('hard@example.org'))).toBe(true);
    expect(await inAudience(s)).toBe(false);
  });

  it('a complaint suppresses at once; matched by address when there is no tag; the form cannot resubscribe it', async () => {
    const s = await confirmedSubscriber('Complainer@Example.org');
    const res = await post(snsNotification(cert.keyPem, sesEvents.complaint('complainer@example.org')));
    expect(res.status).toBe(200);
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'suppressed', suppressedReason: 'complaint' });
    const again = await h.api('/subscribe', { method: 'POST', json: { email: 'complainer@example.org' }, headers: { authorization: '' } });
    expect(again.status).toBe(202);
    expect((await h.repo.get(s.id))!.status).toBe('suppressed');
    expect(h.mailTo('complainer@example.org')).toHaveLength(0);
  });

  it('a "not-spam" feedback is not a complaint', async () => {
    const s = await confirmedSubscriber('notspam@example.org');
    await post(snsNotification(cert.keyPem, sesEvents.complaint('notspam@example.org', {}, 'not-spam')));
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
  });

  it('soft bounces are counted and suppress at the threshold; a delivery resets the count', async () => {
    const s = await confirmedSubscriber('soft@example.org');
    const soft = () => post(snsNotification(cert.keyPem, sesEvents.bounce('soft@example.org', 'Transient', { subscriber_id: s.id })));
    await soft();
    await soft();
    expect(await h.repo.get(s.id)).toMatchObject({ status: 'confirmed', softBounces: 2 });
    await post(snsNotification(cert.keyPem, sesEvents.delivery('soft@example.org', { subscriber_id: s.id })));
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
    const message = snsNotification(cert.keyPem, sesEvents.bounce('replay@example.org', 'Transient', { subscriber_id: s.id }));
    expect((await post(message)).status).toBe(200);
    const after = (await h.repo.get(s.id))!;
    expect(after.softBounces).toBe(1);
    const replay = await post(message);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toMatchObject({ changes: [{ result: 'duplicate' }] });
    expect(await h.repo.get(s.id)).toEqual(after);
    const seen = (await h.doc.send(new GetCommand({ TableName: h.tableName, Key: keys.seen('sns', message.MessageId!) }))).Item!;
    expect(seen.expiresAt).toBeGreaterThan(Date.now() / 1000);
  });

  it('a tag naming another subscriber than the bounced address is not trusted', async () => {
    const victim = await confirmedSubscriber('victim@example.org');
    const bounced = await confirmedSubscriber('bounced@example.org');
    await post(snsNotification(cert.keyPem, sesEvents.bounce('bounced@example.org', 'Permanent', { subscriber_id: victim.id })));
    expect((await h.repo.get(victim.id))!.status).toBe('confirmed');
    expect((await h.repo.get(bounced.id))!.status).toBe('suppressed');
  });

  it('a hard bounce for an unknown address still suppresses its hash, so an import skips it', async () => {
    await post(snsNotification(cert.keyPem, sesEvents.bounce('stranger@example.org', 'Permanent')));
    expect(await h.repo.isSuppressed(emailHash('stranger@example.org'))).toBe(true);
  });

  it('refuses forged messages with 403 and writes nothing', async () => {
    const s = await confirmedSubscriber('forged@example.org');
    const forged = snsNotification(forger.keyPem, sesEvents.bounce('forged@example.org', 'Permanent', { subscriber_id: s.id }));
    const res = await post(forged);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('sns.signatureInvalid');
    const tampered = snsNotification(cert.keyPem, sesEvents.delivery('forged@example.org'));
    const r2 = await post({ ...tampered, Message: JSON.stringify(sesEvents.bounce('forged@example.org', 'Permanent')) });
    expect(r2.status).toBe(403);
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
    expect((await h.doc.send(new GetCommand({ TableName: h.tableName, Key: keys.seen('sns', forged.MessageId!) }))).Item).toBeUndefined();
  });

  it('refuses a certificate URL off the SNS hosts without fetching it', async () => {
    const s = await confirmedSubscriber('wronghost@example.org');
    const before = fetcher.calls.length;
    const m = signSns(cert.keyPem, {
      Type: 'Notification',
      MessageId: 'wrong-host-1',
      TopicArn: TOPIC_ARN,
      Message: JSON.stringify(sesEvents.bounce('wronghost@example.org', 'Permanent')),
      Timestamp: new Date().toISOString(),
      SigningCertURL: 'https://sns.us-east-1.amazonaws.com.attacker.example/cert.pem',
    });
    const res = await post(m);
    expect(res.status).toBe(403);
    expect(fetcher.calls.length).toBe(before);
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
  });

  it('refuses a message from another topic and non-JSON bodies', async () => {
    const other = snsNotification(cert.keyPem, sesEvents.bounce('x@example.org', 'Permanent'), { TopicArn: 'arn:aws:sns:us-east-1:999999999999:someone-else' });
    expect((await post(other)).status).toBe(403);
    expect((await post('not json')).status).toBe(400);
    expect(await h.repo.isSuppressed(emailHash('x@example.org'))).toBe(false);
  });

  it('confirms the SNS subscription by fetching SubscribeURL only after the signature verifies', async () => {
    const good = snsSubscriptionConfirmation(cert.keyPem);
    const res = await post(good, { 'x-amz-sns-message-type': 'SubscriptionConfirmation' });
    expect(res.status).toBe(200);
    expect(h.confirmed).toEqual([good.SubscribeURL]);
    const forged = snsSubscriptionConfirmation(forger.keyPem, { SubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC_ARN}&Token=evil` });
    expect((await post(forged)).status).toBe(403);
    const offHost = snsSubscriptionConfirmation(cert.keyPem, { SubscribeURL: 'https://attacker.example/?Action=ConfirmSubscription' });
    expect((await post(offHost)).status).toBe(400);
    expect(h.confirmed).toHaveLength(1);
  });

  it('mailto unsubscribe through SES receiving: the token in the subject unsubscribes', async () => {
    const s = await confirmedSubscriber('mailto@example.org');
    const mailto = subscriberLinks(h.deps.site, h.signer, s.id, new Date(), 'unsubscribe@news.example.com').unsubscribeMailto!;
    const subject = decodeURIComponent(mailto.split('subject=')[1]!);
    const res = await post(snsNotification(cert.keyPem, sesEvents.received(subject)));
    expect(res.status).toBe(200);
    expect((await h.repo.get(s.id))!.status).toBe('unsubscribed');
    const forged = await post(snsNotification(cert.keyPem, sesEvents.received('unsubscribe abc.def')));
    expect(forged.status).toBe(200);
    expect(await forged.json()).toMatchObject({ type: 'ignored' });
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
