import { describe, expect, it } from 'vitest';
import { MessageRejected, MailFromDomainNotVerifiedException, SESClient, SESServiceException } from '@aws-sdk/client-ses';
import { SesMailer, sanitizeTagPart, toSesTags, translateSesError } from '../../lambdas/adapters/ses/ses-mailer.ts';
import {
  MailerInvalidMessageError,
  MailerRejectedError,
  MailerThrottledError,
  MailerTransientError,
  type OutgoingEmail,
} from '../../lambdas/core/email/message.ts';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const serviceError = (name: string, message: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client') =>
  new SESServiceException({ name, message, $fault: fault, ...meta(status) });

describe('translateSesError (SDK error shapes built by hand; the local endpoint covers the wire)', () => {
  it.each([
    ['Throttling', 'Maximum sending rate exceeded.'],
    ['ThrottlingException', 'Rate exceeded'],
    ['TooManyRequestsException', 'Too many requests'],
    ['SomethingNew', 'Throttling – Maximum sending rate exceeded'],
  ])('%s is throttling', (name, message) => {
    const e = translateSesError(serviceError(name, message, 400));
    expect(e).toBeInstanceOf(MailerThrottledError);
    expect(e).toMatchObject({ retryable: true, reason: 'rate' });
  });

  it('daily quota is throttling with a long wait', () => {
    const e = translateSesError(serviceError('Throttling', 'Daily message quota exceeded.', 400));
    expect(e).toMatchObject({ reason: 'dailyQuota', retryable: true });
    expect((e as MailerThrottledError).retryAfterMs).toBeGreaterThanOrEqual(60_000);
  });

  it('MessageRejected is a permanent rejection of this message only', () => {
    const e = translateSesError(new MessageRejected({ message: 'Email address is not verified.', ...meta(400) }));
    expect(e).toBeInstanceOf(MailerRejectedError);
    expect(e).toMatchObject({ code: 'MessageRejected', retryable: false, affectsAllMessages: false });
  });

  it.each([
    () => new MailFromDomainNotVerifiedException({ message: 'MAIL FROM domain not verified', ...meta(400) }),
    () => serviceError('ConfigurationSetDoesNotExist', 'Configuration set <x> does not exist.', 400),
    () => serviceError('AccountSendingPausedException', 'Sending paused', 400),
    () => serviceError('AccessDenied', 'User is not authorized to perform ses:SendRawEmail', 403),
  ])('account-wide problems reject every message (%#)', (make) => {
    const e = translateSesError(make());
    expect(e).toBeInstanceOf(MailerRejectedError);
    expect(e).toMatchObject({ retryable: false, affectsAllMessages: true });
  });

  it('5xx, timeouts and network failures are transient', () => {
    expect(translateSesError(serviceError('InternalFailure', 'boom', 500))).toBeInstanceOf(MailerTransientError);
    expect(translateSesError(serviceError('ServiceUnavailable', 'later', 503))).toBeInstanceOf(MailerTransientError);
    expect(translateSesError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBeInstanceOf(MailerTransientError);
    expect(translateSesError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBeInstanceOf(MailerTransientError);
  });

  it('says which transient failures certainly did not send the message, so only those are sent again at once', () => {
    const notSent = (e: unknown) => (translateSesError(e) as MailerTransientError).notSent;
    // SES answered with an error: it did not take the message.
    expect(notSent(serviceError('InternalFailure', 'boom', 500))).toBe(true);
    // The request never left this machine.
    expect(notSent(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(notSent(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }))).toBe(true);
    // Cut or timed out mid-call: it may have gone out.
    expect(notSent(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(false);
    expect(notSent(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe(false);
  });

  it('leaves programming errors alone instead of calling them a mail outcome', () => {
    const bug = new TypeError('x is undefined');
    expect(translateSesError(bug)).toBe(bug);
  });
});

const email = (over: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  from: { name: 'News', address: 'news@news.example.com' },
  to: { address: 'ada@example.org' },
  subject: 'Hi',
  html: '<p>Hi</p>',
  text: 'Hi',
  tags: {},
  configurationSet: 'inkwire-transactional',
  messageStreamKind: 'transactional',
  ...over,
});

describe('SES message tags', () => {
  it('keeps only [A-Za-z0-9_-], at most 256 characters, never empty', () => {
    expect(sanitizeTagPart('send id/01:é')).toBe('send_id_01__');
    expect(sanitizeTagPart('x'.repeat(300))).toHaveLength(256);
    expect(sanitizeTagPart('')).toBe('_');
  });

  it('adds the stream kind and refuses more than 50 tags', () => {
    expect(toSesTags(email({ tags: { send: 's1' } }))).toEqual([
      { Name: 'stream', Value: 'transactional' },
      { Name: 'send', Value: 's1' },
    ]);
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'v']));
    expect(() => toSesTags(email({ tags: many }))).toThrow(MailerInvalidMessageError);
  });
});

describe('SesMailer.buildRawMessage', () => {
  const mailer = new SesMailer({ client: new SESClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }) });

  it('refuses a message over the 10 MB SES limit before calling SES', async () => {
    await expect(mailer.buildRawMessage(email({ html: 'x'.repeat(11 * 1024 * 1024) }))).rejects.toThrow(/at most 10485760/);
  });

  it('refuses a List-Unsubscribe line over 998 characters instead of folding it', async () => {
    const headers = { listUnsubscribeUrl: `https://news.example.com/u?t=${'x'.repeat(1000)}`, listId: 'N <news.example.com>' };
    await expect(mailer.buildRawMessage(email({ headers, messageStreamKind: 'newsletter' }))).rejects.toThrow(/998/);
  });

  it('builds text/plain before text/html so clients prefer the HTML', async () => {
    const raw = (await mailer.buildRawMessage(email())).toString('latin1');
    expect(raw.indexOf('Content-Type: text/plain')).toBeGreaterThan(0);
    expect(raw.indexOf('Content-Type: text/plain')).toBeLessThan(raw.indexOf('Content-Type: text/html'));
  });
});
