import { createVerify, X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { AppError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import { isSnsCertificateUrl, type CertificateFetcher } from './certificates.ts';

/** An SNS message delivered over HTTP(S), after its signature was checked. */
export interface SnsMessage {
  Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  MessageId: string;
  TopicArn: string;
  Subject?: string | undefined;
  Message: string;
  Timestamp: string;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
  SubscribeURL?: string | undefined;
  Token?: string | undefined;
  UnsubscribeURL?: string | undefined;
  /** Region of the topic, from its ARN. */
  region: string;
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

const EnvelopeSchema = z
  .object({
    Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
    MessageId: z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/),
    TopicArn: z.string().regex(TOPIC_ARN, 'must be an SNS topic ARN'),
    Subject: z.string().max(100).optional(),
    Message: z.string().max(300 * 1024),
    Timestamp: z.iso.datetime({ offset: true }),
    SignatureVersion: z.enum(['1', '2']),
    Signature: z.string().min(1).max(2048).regex(/^[A-Za-z0-9+/=]+$/),
    SigningCertURL: z.string().max(1000).optional(),
    SigningCertUrl: z.string().max(1000).optional(),
    SubscribeURL: z.string().max(2000).optional(),
    SubscribeUrl: z.string().max(2000).optional(),
    Token: z.string().max(2000).optional(),
    UnsubscribeURL: z.string().max(2000).optional(),
    UnsubscribeUrl: z.string().max(2000).optional(),
  })
  .loose();

/**
 * The exact text SNS signs: `Name\nvalue\n` for each signed field in byte order of the names, optional
 * fields only when present (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
 */
export function snsStringToSign(m: Pick<SnsMessage, 'Type' | 'Message' | 'MessageId' | 'Subject' | 'SubscribeURL' | 'Timestamp' | 'Token' | 'TopicArn'>): string {
  const fields: [string, string | undefined][] =
    m.Type === 'Notification'
      ? [['Message', m.Message], ['MessageId', m.MessageId], ['Subject', m.Subject], ['Timestamp', m.Timestamp], ['TopicArn', m.TopicArn], ['Type', m.Type]]
      : [['Message', m.Message], ['MessageId', m.MessageId], ['SubscribeURL', m.SubscribeURL], ['Timestamp', m.Timestamp], ['Token', m.Token], ['TopicArn', m.TopicArn], ['Type', m.Type]];
  return fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}\n${v}\n`).join('');
}

export interface SnsVerifierOptions {
  certificates: CertificateFetcher;
  /**
   * Topics whose messages are accepted. SNS signs every topic's messages with the same certificate, so a
   * valid signature alone proves only that the message came through SNS, not that it came from our topic.
   */
  allowedTopicArns: string[];
  clock: Clock;
  /** Older messages are refused; keep it below the replay records' lifetime. Default one day. */
  maxAgeSeconds?: number;
  /** Cached certificates. Default 20, each kept a day. */
  cacheSize?: number;
}

export interface SnsVerifier {
  /** Checks shape, topic, age, certificate URL and signature. @throws AppError `sns.messageInvalid` or `sns.signatureInvalid` */
  verify(body: unknown): Promise<SnsMessage>;
}

const forged = (why: string) => new AppError('sns.signatureInvalid', `the SNS message was refused: ${why}`);
const malformed = (why: string) => new AppError('sns.messageInvalid', `not an SNS message we accept: ${why}`);

/**
 * Verifies SNS messages before anything in them is trusted: the signing certificate is fetched only from
 * an SNS host in the topic's region, cached, checked for its validity period, and the RSA signature
 * (SignatureVersion 1: SHA1, 2: SHA256) must match the canonical string.
 */
export function createSnsVerifier(options: SnsVerifierOptions): SnsVerifier {
  const maxAge = (options.maxAgeSeconds ?? 86_400) * 1000;
  const cacheSize = options.cacheSize ?? 20;
  const cache = new Map<string, { cert: Promise<X509Certificate>; until: number }>();
  const allowed = new Set(options.allowedTopicArns);

  function certificate(url: string, now: number): Promise<X509Certificate> {
    const hit = cache.get(url);
    if (hit && hit.until > now) return hit.cert;
    const cert = options.certificates.fetch(url).then((pem) => new X509Certificate(pem));
    cert.catch(() => cache.delete(url));
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(url, { cert, until: now + 86_400_000 });
    return cert;
  }

  return {
    async verify(body) {
      const parsed = EnvelopeSchema.safeParse(body);
      if (!parsed.success) throw malformed(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      const e = parsed.data;
      const region = TOPIC_ARN.exec(e.TopicArn)![1]!;
      const m: SnsMessage = {
        Type: e.Type,
        MessageId: e.MessageId,
        TopicArn: e.TopicArn,
        Subject: e.Subject,
        Message: e.Message,
        Timestamp: e.Timestamp,
        SignatureVersion: e.SignatureVersion,
        Signature: e.Signature,
        SigningCertURL: e.SigningCertURL ?? e.SigningCertUrl ?? '',
        SubscribeURL: e.SubscribeURL ?? e.SubscribeUrl,
        Token: e.Token,
        UnsubscribeURL: e.UnsubscribeURL ?? e.UnsubscribeUrl,
        region,
      };
      if (m.Type !== 'Notification' && (!m.SubscribeURL || !m.Token)) throw malformed(`${m.Type} needs SubscribeURL and Token`);
      if (!isSnsCertificateUrl(m.SigningCertURL, region)) throw forged(`the signing certificate URL is not an SNS certificate in ${region}`);
      if (!allowed.has(m.TopicArn)) throw forged(`topic ${m.TopicArn} is not one this endpoint accepts`);

      const now = options.clock.now().getTime();
      const sent = Date.parse(m.Timestamp);
      if (sent < now - maxAge) throw malformed('the message is too old');
      if (sent > now + 5 * 60_000) throw malformed('the message is dated in the future');

      let cert: X509Certificate;
      try {
        cert = await certificate(m.SigningCertURL, now);
      } catch (cause) {
        throw new AppError('dependency.unavailable', 'could not fetch the SNS signing certificate; SNS will retry', { cause });
      }
      if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) throw forged('the signing certificate is not valid now');
      const verifier = createVerify(m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
      verifier.update(snsStringToSign(m), 'utf8');
      let ok = false;
      try {
        ok = verifier.verify(cert.publicKey, m.Signature, 'base64');
      } catch {
        ok = false;
      }
      if (!ok) throw forged('the signature does not match');
      return m;
    },
  };
}
