import { GetSendQuotaCommand, SendRawEmailCommand, type MessageTag, type SESClient } from '@aws-sdk/client-ses';
import { systemClock, type Clock } from '../../core/clock.ts';
import {
  MailerInvalidMessageError,
  MailerRejectedError,
  MailerThrottledError,
  MailerTransientError,
  isMailerError,
  type Mailer,
  type OutgoingEmail,
  type SendQuota,
  type SentEmail,
} from '../../core/email/message.ts';
import { buildMimeMessage, MAX_RAW_MESSAGE_BYTES } from './mime.ts';

export interface SesMailerOptions {
  /**
   * Built by the composition root (locally with an `endpoint` override). The SDK's own retry strategy
   * retries `Throttling` a few times before it surfaces; a caller that paces sends itself may prefer
   * `maxAttempts: 1` so that every throttle reaches its pacing logic at once.
   */
  client: SESClient;
  clock?: Clock;
}

/** SES message tags allow only `[A-Za-z0-9_-]`, at most 256 characters, 50 tags per message. */
const MAX_TAGS = 50;
export function sanitizeTagPart(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256);
  return cleaned || '_';
}

export function toSesTags(email: OutgoingEmail): MessageTag[] {
  const merged: Record<string, string> = { stream: email.messageStreamKind, ...email.tags };
  const byName = new Map<string, string>();
  for (const [name, value] of Object.entries(merged)) byName.set(sanitizeTagPart(name), sanitizeTagPart(value));
  if (byName.size > MAX_TAGS) throw new MailerInvalidMessageError('tags', `SES accepts at most ${MAX_TAGS} message tags`);
  return [...byName].map(([Name, Value]) => ({ Name, Value }));
}

/** Errors that mean every following message fails too, until someone fixes the account or configuration. */
const ACCOUNT_WIDE = new Set([
  'AccountSendingPausedException',
  'ConfigurationSetDoesNotExist',
  'ConfigurationSetDoesNotExistException',
  'ConfigurationSetSendingPausedException',
  'MailFromDomainNotVerified',
  'MailFromDomainNotVerifiedException',
  'FromEmailAddressNotVerified',
  'ProductionAccessNotGranted',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'OptInRequired',
]);
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestThrottled', 'RequestLimitExceeded', 'SlowDown']);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);
const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'NetworkingError',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'AbortError',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** Network failures where the request never reached SES. */
const NEVER_REACHED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Maps whatever the SDK threw to a {@link MailerError}. Throttling is recognised by code and by SES's
 * message text ("Maximum sending rate exceeded", "Daily message quota exceeded"), because SES has
 * answered rate limits under more than one code over the years.
 */
export function translateSesError(error: unknown): Error {
  if (isMailerError(error)) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const causeCode = (e.cause as { code?: unknown } | undefined)?.code;
  const names = [e.Code, e.name, e.code, causeCode].filter((v): v is string => typeof v === 'string' && v !== 'Error');
  const code = names[0] ?? 'Unknown';
  const message = typeof e.message === 'string' && e.message ? e.message : code;
  const status = e.$metadata?.httpStatusCode;
  if (/daily message quota exceeded/i.test(message)) {
    return new MailerThrottledError(`SES daily quota exceeded: ${message}`, { code, reason: 'dailyQuota', cause: error });
  }
  if (names.some((n) => THROTTLING.has(n)) || /maximum sending rate exceeded/i.test(message) || status === 429) {
    return new MailerThrottledError(`SES throttled the send: ${message}`, { code, reason: 'rate', cause: error });
  }
  if ((status !== undefined && status >= 500) || e.$fault === 'server' || names.some((n) => TRANSIENT_NAMES.has(n) || NETWORK.has(n))) {
    // A request that never left (refused, unresolvable, unreachable) or that SES answered with a 5xx did
    // not deliver the message; anything else (a timeout, a reset mid-call) may have.
    const notSent = names.some((n) => NEVER_REACHED.has(n)) || (status !== undefined && status >= 500);
    return new MailerTransientError(code, `SES unavailable: ${message}`, { cause: error, notSent });
  }
  if ((status !== undefined && status >= 400) || e.$fault === 'client') {
    return new MailerRejectedError(code, `SES rejected the message: ${message}`, { affectsAllMessages: ACCOUNT_WIDE.has(code), cause: error });
  }
  // Not something SES said: a bug or an unexpected failure; do not disguise it as a mail outcome.
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * {@link Mailer} over Amazon SES v1 `SendRawEmail`: builds the MIME with nodemailer's MailComposer and
 * hands it to SES with the configuration set and message tags.
 *
 * @example
 * ```ts
 * const mailer = new SesMailer({ client: new SESClient({ region: 'eu-west-1' }) });
 * const { messageId } = await mailer.send(email);
 * ```
 */
export class SesMailer implements Mailer {
  private readonly client: SESClient;
  private readonly clock: Clock;

  constructor(options: SesMailerOptions) {
    this.client = options.client;
    this.clock = options.clock ?? systemClock;
  }

  /** The exact bytes {@link send} would hand to SES (also refuses an invalid email the same way). */
  async buildRawMessage(email: OutgoingEmail): Promise<Buffer> {
    const raw = await buildMimeMessage(email, { date: this.clock.now() });
    if (raw.byteLength > MAX_RAW_MESSAGE_BYTES) {
      throw new MailerInvalidMessageError('html', `the message is ${raw.byteLength} bytes; SES accepts at most ${MAX_RAW_MESSAGE_BYTES}`);
    }
    return raw;
  }

  async send(email: OutgoingEmail): Promise<SentEmail> {
    const raw = await this.buildRawMessage(email);
    const tags = toSesTags(email);
    try {
      const out = await this.client.send(
        new SendRawEmailCommand({
          RawMessage: { Data: raw },
          Destinations: [email.to.address],
          ConfigurationSetName: email.configurationSet,
          Tags: tags,
        }),
      );
      if (!out.MessageId) throw new MailerTransientError('MissingMessageId', 'SES answered without a MessageId');
      return { messageId: out.MessageId };
    } catch (error) {
      throw translateSesError(error);
    }
  }

  async getSendQuota(): Promise<SendQuota> {
    try {
      const out = await this.client.send(new GetSendQuotaCommand({}));
      return {
        maxSendRate: out.MaxSendRate ?? 0,
        max24HourSend: out.Max24HourSend ?? 0,
        sentLast24Hours: out.SentLast24Hours ?? 0,
      };
    } catch (error) {
      throw translateSesError(error);
    }
  }
}
