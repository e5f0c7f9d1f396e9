import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lambdas/core/clock.ts';
import { AppError } from '../../lambdas/core/errors.ts';
import { createSnsVerifier } from '../../lambdas/adapters/sns/verify.ts';
import { HttpsCertificateFetcher, isSnsCertificateUrl, isSnsSubscribeUrl } from '../../lambdas/adapters/sns/certificates.ts';
import {
  CERT_URL,
  TOPIC_ARN,
  fakeCertificateFetcher,
  makeCertificate,
  signSns,
  snsNotification,
  snsSubscriptionConfirmation,
  sesEvents,
} from '../support/subscriber-harness.ts';

let cert: { certPem: string; keyPem: string };
let otherKey: { certPem: string; keyPem: string };
beforeAll(() => {
  cert = makeCertificate();
  otherKey = makeCertificate();
});

const verifier = (fetcher = fakeCertificateFetcher(cert.certPem), allowedTopicArns = [TOPIC_ARN]) => ({
  fetcher,
  v: createSnsVerifier({ certificates: fetcher, allowedTopicArns, clock: systemClock }),
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('SNS signature verification', () => {
  it('accepts a Notification signed with SignatureVersion 1 (SHA1) and 2 (SHA256)', async () => {
    const { v } = verifier();
    for (const version of ['1', '2'] as const) {
      const m = await v.verify(snsNotification(cert.keyPem, sesEvents.bounce('a@example.org', 'Permanent'), {}, version));
      expect(m).toMatchObject({ Type: 'Notification', TopicArn: TOPIC_ARN, region: 'us-east-1', SignatureVersion: version });
    }
  });

  it('accepts a Notification with a Subject (part of the signed text) and a SubscriptionConfirmation', async () => {
    const { v } = verifier();
    expect(await refusal(v.verify(snsNotification(cert.keyPem, {}, { Subject: 'Amazon SES Email Event Notification' })))).toBe('accepted');
    expect(await refusal(v.verify(snsSubscriptionConfirmation(cert.keyPem)))).toBe('accepted');
  });

  it('refuses a message changed after signing (forged signature)', async () => {
    const { v } = verifier();
    const m = snsNotification(cert.keyPem, sesEvents.bounce('a@example.org', 'Transient'));
    expect(await refusal(v.verify({ ...m, Message: JSON.stringify(sesEvents.bounce('a@example.org', 'Permanent')) }))).toBe('sns.signatureInvalid');
    const c = snsSubscriptionConfirmation(cert.keyPem);
    expect(await refusal(v.verify({ ...c, SubscribeURL: c.SubscribeURL!.replace('abc123token', 'other') }))).toBe('sns.signatureInvalid');
    // Dropping the Subject changes the signed text too.
    const withSubject = snsNotification(cert.keyPem, {}, { Subject: 'x' });
    const { Subject: _s, ...withoutSubject } = withSubject;
    expect(await refusal(v.verify(withoutSubject))).toBe('sns.signatureInvalid');
  });

  it('refuses a message signed by another key than the certificate at the URL', async () => {
    const { v } = verifier();
    expect(await refusal(v.verify(snsNotification(otherKey.keyPem, {})))).toBe('sns.signatureInvalid');
  });

  it('refuses a version 2 message whose signature was made with SHA1 (no downgrade)', async () => {
    const { v } = verifier();
    const v1 = snsNotification(cert.keyPem, {}, {}, '1');
    expect(await refusal(v.verify({ ...v1, SignatureVersion: '2' }))).toBe('sns.signatureInvalid');
  });

  it.each([
    ['plain http', 'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem'],
    ['a look-alike host', 'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem'],
    ['user info', 'https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-x.pem'],
    ['another AWS service', 'https://s3.us-east-1.amazonaws.com/SimpleNotificationService-x.pem'],
    ['another region than the topic', 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem'],
    ['a port', 'https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem'],
    ['a query', 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem?x=1'],
    ['not a .pem', 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.txt'],
    ['a path traversal', 'https://sns.us-east-1.amazonaws.com/../evil.pem'],
  ])('refuses a certificate URL with %s, without fetching it', async (_why, url) => {
    const { v, fetcher } = verifier();
    const m = signSns(cert.keyPem, { Type: 'Notification', MessageId: 'm-1', TopicArn: TOPIC_ARN, Message: '{}', Timestamp: new Date().toISOString(), SigningCertURL: url });
    expect(await refusal(v.verify(m))).toBe('sns.signatureInvalid');
    expect(fetcher.calls).toEqual([]);
  });

  it('refuses a validly signed message from a topic it does not accept, without fetching', async () => {
    const { v, fetcher } = verifier(undefined, ['arn:aws:sns:us-east-1:123456789012:another-topic']);
    expect(await refusal(v.verify(snsNotification(cert.keyPem, {})))).toBe('sns.signatureInvalid');
    expect(fetcher.calls).toEqual([]);
  });

  it('refuses old and future-dated messages, and malformed envelopes', async () => {
    const { v } = verifier();
    expect(await refusal(v.verify(snsNotification(cert.keyPem, {}, { Timestamp: new Date(Date.now() - 2 * 86_400_000).toISOString() })))).toBe('sns.messageInvalid');
    expect(await refusal(v.verify(snsNotification(cert.keyPem, {}, { Timestamp: new Date(Date.now() + 3_600_000).toISOString() })))).toBe('sns.messageInvalid');
    expect(await refusal(v.verify({ Type: 'Notification' }))).toBe('sns.messageInvalid');
    expect(await refusal(v.verify('hello'))).toBe('sns.messageInvalid');
    expect(await refusal(v.verify({ ...snsNotification(cert.keyPem, {}), SignatureVersion: '3' }))).toBe('sns.messageInvalid');
  });

  it('fetches each certificate once and caches it; a failed fetch is not cached', async () => {
    let fail = true;
    const calls: string[] = [];
    const fetcher = {
      calls,
      async fetch(u: string) {
        calls.push(u);
        if (fail) throw new Error('network down');
        return cert.certPem;
      },
    };
    const v = createSnsVerifier({ certificates: fetcher, allowedTopicArns: [TOPIC_ARN], clock: systemClock });
    expect(await refusal(v.verify(snsNotification(cert.keyPem, {})))).toBe('dependency.unavailable');
    fail = false;
    for (let i = 0; i < 3; i++) expect(await refusal(v.verify(snsNotification(cert.keyPem, {})))).toBe('accepted');
    expect(calls).toEqual([CERT_URL, CERT_URL]);
  });

  it('refuses a certificate outside its validity period', async () => {
    const later = createSnsVerifier({ certificates: fakeCertificateFetcher(cert.certPem), allowedTopicArns: [TOPIC_ARN], clock: { now: () => new Date(Date.now() + 5 * 86_400_000) } });
    const m = snsNotification(cert.keyPem, {}, { Timestamp: new Date(Date.now() + 5 * 86_400_000).toISOString() });
    expect(await refusal(later.verify(m))).toBe('sns.signatureInvalid');
  });
});

describe('SNS URLs', () => {
  it('accepts only SNS certificate and subscribe URLs', () => {
    expect(isSnsCertificateUrl(CERT_URL)).toBe(true);
    expect(isSnsCertificateUrl('https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem')).toBe(true);
    expect(isSnsCertificateUrl(CERT_URL, 'eu-west-1')).toBe(false);
    expect(isSnsSubscribeUrl(`https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC_ARN}&Token=x`, 'us-east-1')).toBe(true);
    expect(isSnsSubscribeUrl('https://evil.example/?Action=ConfirmSubscription', 'us-east-1')).toBe(false);
    expect(isSnsSubscribeUrl(`https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&TopicArn=${TOPIC_ARN}`, 'us-east-1')).toBe(false);
    expect(isSnsSubscribeUrl('http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription', 'us-east-1')).toBe(false);
  });

  it('the https fetcher refuses a non-SNS URL before any request and never follows redirects', async () => {
    const seen: { url: string; init: RequestInit | undefined }[] = [];
    const fake = (async (url: string, init?: RequestInit) => {
      seen.push({ url, init });
      return new Response(cert.certPem, { status: 200 });
    }) as unknown as typeof fetch;
    const f = new HttpsCertificateFetcher({ fetch: fake });
    await expect(f.fetch('https://evil.example/x.pem')).rejects.toThrow(/refusing/);
    expect(seen).toEqual([]);
    expect(await f.fetch(CERT_URL)).toContain('BEGIN CERTIFICATE');
    expect(seen[0]!.init?.redirect).toBe('error');
  });
});
