import { domainToASCII } from 'node:url';
/**
 * What the core hands to a {@link Mailer}: one fully rendered email for one recipient, and the errors
 * a Mailer may throw. No transport detail lives here; the SES adapter turns this into MIME.
 */

export interface Mailbox {
  /** Display name; optional for recipients. Never contains CR or LF (see {@link validateOutgoingEmail}). */
  name?: string | undefined;
  address: string;
}

/**
 * The List-* headers of a newsletter email (RFC 2369, RFC 2919, RFC 8058). A Mailer that carries them
 * also emits `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, so `listUnsubscribeUrl` must accept a
 * POST with the body `List-Unsubscribe=One-Click` and unsubscribe at once, with no further page.
 */
export interface ListHeaders {
  /** `https:` URL that unsubscribes with one POST (RFC 8058 requires https). */
  listUnsubscribeUrl: string;
  /** Optional `mailto:` URI, e.g. `mailto:unsubscribe@news.example.com?subject=unsubscribe`. */
  listUnsubscribeMailto?: string | undefined;
  /** RFC 2919 list identifier with an optional phrase: `Thin Line News <news.example.com>`. See {@link formatListId}. */
  listId: string;
}

export type MessageStreamKind = 'transactional' | 'newsletter';

/** One rendered email for one recipient. */
export interface OutgoingEmail {
  from: { name: string; address: string };
  to: Mailbox;
  replyTo?: Mailbox | undefined;
  subject: string;
  html: string;
  text: string;
  /** Required for newsletter mail; absent for plain transactional mail (a confirmation request). */
  headers?: ListHeaders | undefined;
  /**
   * Attached to the provider's delivery, bounce and complaint events (SES message tags), so an event can
   * be traced back to a Send and a Subscriber. Adapters sanitise names and values to what the provider allows.
   */
  tags: Record<string, string>;
  /** Provider configuration set: newsletter and transactional mail go through separate ones. */
  configurationSet: string;
  messageStreamKind: MessageStreamKind;
}

/** Result of a send the provider accepted. Accepted (Submitted) is not Delivered. */
export interface SentEmail {
  /** The provider's id for the message; bounce and complaint events refer to it. */
  messageId: string;
}

export interface SendQuota {
  /** Messages (recipients) per second the account may send. */
  maxSendRate: number;
  /** Recipients per rolling 24 hours. */
  max24HourSend: number;
  /** Recipients sent in the last 24 hours. */
  sentLast24Hours: number;
}

/**
 * The port through which the core sends email.
 *
 * `send` resolves only once the provider has accepted the message; it never resolves for a throttled or
 * rejected message. Callers must therefore mark a recipient as Submitted only after `send` resolved, and
 * must branch on the error class when it rejects:
 *
 * - {@link MailerThrottledError}: the provider is over its rate or daily quota. Retry the same message
 *   later (after `retryAfterMs`), slow down; never count it as sent.
 * - {@link MailerTransientError}: network failure, timeout or provider 5xx. Retry with backoff. The
 *   provider may, rarely, have accepted the message before the connection broke.
 * - {@link MailerRejectedError}: the provider (or the Mailer's own validation) refused this message; a
 *   retry of the same message fails again. When `affectsAllMessages` is true (unverified sender,
 *   missing configuration set, paused account) every following message will fail too: pause the Send.
 *
 * @example
 * ```ts
 * try {
 *   const { messageId } = await mailer.send(email);
 *   await ledger.markSubmitted(recipient, messageId);
 * } catch (e) {
 *   if (isRetryableMailerError(e)) await ledger.retryLater(recipient, e);
 *   else if (e instanceof MailerRejectedError) await ledger.markFailed(recipient, e.code);
 *   else throw e;
 * }
 * ```
 */
export interface Mailer {
  /** Sends one email to one recipient. Throws a {@link MailerError} subclass on failure. */
  send(email: OutgoingEmail): Promise<SentEmail>;
  /** The account's current sending limits, for pacing. Throws a {@link MailerError} subclass on failure. */
  getSendQuota(): Promise<SendQuota>;
}

/** Base class of every error a {@link Mailer} throws on purpose. */
export abstract class MailerError extends Error {
  /** True when the same message may succeed if sent again later. */
  abstract readonly retryable: boolean;
  /** The provider's error code (`Throttling`, `MessageRejected`, ...) or a local one (`InvalidMessage`). */
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/**
 * The provider refused the call because of its sending rate or daily quota (SES `Throttling`).
 * Always retryable; the message was not accepted.
 */
export class MailerThrottledError extends MailerError {
  override readonly name = 'MailerThrottledError';
  readonly retryable = true;
  /** `rate`: per-second limit, retry within a second or so. `dailyQuota`: retry after minutes to hours. */
  readonly reason: 'rate' | 'dailyQuota';
  /** A suggested minimum wait before retrying. */
  readonly retryAfterMs: number;

  constructor(message: string, options: { code?: string; reason?: 'rate' | 'dailyQuota'; cause?: unknown } = {}) {
    super(options.code ?? 'Throttling', message, options);
    this.reason = options.reason ?? 'rate';
    this.retryAfterMs = this.reason === 'dailyQuota' ? 10 * 60_000 : 1_000;
  }
}

/** A failure that says nothing about the message itself (network, timeout, provider 5xx). Retryable. */
export class MailerTransientError extends MailerError {
  override readonly name = 'MailerTransientError';
  readonly retryable = true;
  /**
   * True when the provider certainly did not take the message (the request never reached it, or it
   * answered with a server error), so it is safe to send again; false when it may have gone out (a
   * timeout, a connection cut mid-call). Decided by the adapter, which knows its transport.
   */
  readonly notSent: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; notSent?: boolean } = {}) {
    super(code, message, options);
    this.notSent = options.notSent ?? false;
  }
}

/** The message was refused and sending it again unchanged will fail again. */
export class MailerRejectedError extends MailerError {
  override readonly name: string = 'MailerRejectedError';
  readonly retryable = false;
  /** True when the cause is the account or configuration, so that every other message will fail too. */
  readonly affectsAllMessages: boolean;

  constructor(code: string, message: string, options: { affectsAllMessages?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
    this.affectsAllMessages = options.affectsAllMessages ?? false;
  }
}

/**
 * The email was refused before it reached the provider: a header value with CR/LF (header injection), a
 * malformed address, a non-https unsubscribe URL, a message over the size limit.
 */
export class MailerInvalidMessageError extends MailerRejectedError {
  override readonly name = 'MailerInvalidMessageError';
  /** Which field was refused, e.g. `to.name`, `subject`, `headers.listUnsubscribeUrl`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super('InvalidMessage', `${field}: ${message}`);
    this.field = field;
  }
}

export const isMailerError = (e: unknown): e is MailerError => e instanceof MailerError;
export const isRetryableMailerError = (e: unknown): e is MailerThrottledError | MailerTransientError => e instanceof MailerError && e.retryable;

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const LINE_BREAK = /[\r\n\u2028\u2029\u0085]/;
/** One addr-spec; no display name, no list, no comments, no whitespace. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/;
const LIST_ID = /^[^<>]*<[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+>$/;

/**
 * Why `value` cannot go into a header (subject, display name), or undefined when it can: line breaks
 * (CR, LF, U+0085 NEL, U+2028/U+2029) and control characters. The one rule: the mailer refuses by it, and
 * every schema whose text ends up in a header (a send's subject, an article title, a subscriber's name)
 * refuses by it, so the API never accepts what the mailer would then refuse for every recipient.
 */
export function headerTextProblem(value: string): string | undefined {
  if (LINE_BREAK.test(value)) return 'line breaks are not allowed in a header value (header injection)';
  if (CONTROL.test(value)) return 'control characters are not allowed in a header value';
  return undefined;
}

/** {@link headerTextProblem} as a predicate, for schemas. */
export const isHeaderText = (value: string): boolean => headerTextProblem(value) === undefined;

function checkHeaderText(field: string, value: string | undefined): void {
  if (value === undefined) return;
  const problem = headerTextProblem(value);
  if (problem) throw new MailerInvalidMessageError(field, problem);
}

/** Control, format (bidi controls, zero-width), private-use, surrogate and unassigned code points, U+FFFD, line/paragraph separators. */
const INVISIBLE_OR_INVALID = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Zl}\p{Zp}\ufffd]/u;
/** A domain label's characters: ASCII letters, digits and hyphens, or Unicode letters, marks and digits (IDN). */
const DOMAIN = /^[\p{L}\p{M}\p{N}-]+(\.[\p{L}\p{M}\p{N}-]+)+$/u;

/**
 * Why an email address cannot be mailed, or undefined when it can; the one rule for every address that
 * comes in (subscribe, imports, test sends) and for the mailer. The local part must be ASCII: SES does
 * not support SMTPUTF8, so `josé@example.com` cannot be delivered. The domain may be internationalised
 * (`ada@bücher.example`): it goes out in its A-label form (`xn--bcher-kva.example`). Control and bidi
 * characters, U+FFFD and the like are refused anywhere, with a message that names them: they are invisible
 * or stand for something lost, and an IDN domain would turn them into a different, valid-looking domain.
 */
export function emailAddressProblem(address: string): string | undefined {
  const bad = INVISIBLE_OR_INVALID.exec(address)?.[0];
  if (bad !== undefined) {
    const code = `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    const what =
      bad === '\ufffd'
        ? 'the replacement character (text that was not valid UTF-8)'
        : /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(bad)
          ? 'a bidirectional-text control'
          : 'an invisible or control character';
    return `must not contain ${what} (${code})`;
  }
  const at = address.lastIndexOf('@');
  if (at < 1) return 'must be an email address like name@example.com';
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (/[^\x21-\x7e]/.test(local)) return 'the part before @ must be ASCII (internationalised local parts cannot be sent: SES does not support SMTPUTF8)';
  if (!DOMAIN.test(domain) || domainToASCII(domain) === '')
    return 'the domain must be a domain name (letters, digits, hyphens and dots; internationalised domain names are accepted)';
  return undefined;
}

function checkMailbox(field: string, mailbox: Mailbox): void {
  checkHeaderText(`${field}.name`, mailbox.name);
  checkHeaderText(`${field}.address`, mailbox.address);
  if (!ADDRESS.test(mailbox.address)) throw new MailerInvalidMessageError(`${field}.address`, `not a single email address: ${JSON.stringify(mailbox.address)}`);
  const problem = emailAddressProblem(mailbox.address);
  if (problem) throw new MailerInvalidMessageError(`${field}.address`, `${problem}: ${JSON.stringify(mailbox.address)}`);
}

/**
 * Whether a URL may be a one-click unsubscribe target: https (RFC 8058), or plain http on a loopback
 * host, so the local runtime's mail carries exactly the headers production mail does.
 */
export function isOneClickUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || (u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname));
  } catch {
    return false;
  }
}

function checkUrl(field: string, value: string, scheme: 'https:' | 'mailto:'): void {
  checkHeaderText(field, value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MailerInvalidMessageError(field, `not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== scheme && !(scheme === 'https:' && isOneClickUrl(value))) throw new MailerInvalidMessageError(field, `must be a ${scheme} URL`);
  // `<`, `>` and `,` delimit the URLs inside List-Unsubscribe, and a non-ASCII character would make the
  // whole header an encoded word that no client reads as a URL: the caller must percent-encode.
  if (/[^\x21-\x7e]|[<>,]/.test(value))
    throw new MailerInvalidMessageError(field, 'URL must be printable ASCII without <, >, commas or whitespace (percent-encode it)');
}

/**
 * Refuses an email that must not be sent as is, before any provider call: CR/LF or control characters in
 * any header value, malformed addresses, List-* values in the wrong shape, newsletter mail without
 * List-* headers. Throws {@link MailerInvalidMessageError}; returns nothing when the email is fine.
 */
export function validateOutgoingEmail(email: OutgoingEmail): void {
  checkMailbox('from', email.from);
  checkMailbox('to', email.to);
  if (email.replyTo) checkMailbox('replyTo', email.replyTo);
  checkHeaderText('subject', email.subject);
  if (!email.subject.trim()) throw new MailerInvalidMessageError('subject', 'must not be empty');
  if (!email.text.trim()) throw new MailerInvalidMessageError('text', 'a text/plain part is required');
  if (!email.html.trim()) throw new MailerInvalidMessageError('html', 'a text/html part is required');
  checkHeaderText('configurationSet', email.configurationSet);
  if (!email.configurationSet) throw new MailerInvalidMessageError('configurationSet', 'must not be empty');
  if (email.headers) {
    checkUrl('headers.listUnsubscribeUrl', email.headers.listUnsubscribeUrl, 'https:');
    if (email.headers.listUnsubscribeMailto !== undefined) checkUrl('headers.listUnsubscribeMailto', email.headers.listUnsubscribeMailto, 'mailto:');
    checkHeaderText('headers.listId', email.headers.listId);
    if (!LIST_ID.test(email.headers.listId)) throw new MailerInvalidMessageError('headers.listId', 'must look like `Name <list.example.com>`');
  } else if (email.messageStreamKind === 'newsletter') {
    throw new MailerInvalidMessageError('headers', 'newsletter mail needs List-Unsubscribe and List-Id headers');
  }
}

/**
 * Builds an RFC 2919 `List-Id` value from a display name and a domain-like identifier:
 * `formatListId('Thin Line News', 'news.example.com')` gives `Thin Line News <news.example.com>`.
 */
/**
 * The RFC 2919 list identifier for a site: its host name when that is a domain (`news.example.com`);
 * for a host that is not one (`localhost`, an IP address) the unregistered namespace,
 * `newsletter.localhost`, since a list id needs a label and a namespace.
 */
export function listIdentifierFor(siteUrl: string): string {
  const host = new URL(siteUrl).hostname;
  const isDomain = host.includes('.') && !/^[\d.]+$/.test(host) && !host.startsWith('[');
  return isDomain ? host : 'newsletter.localhost';
}

export function formatListId(name: string, id: string): string {
  const phrase = name
    .replace(/[\r\n<>]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return phrase ? `${phrase} <${id}>` : `<${id}>`;
}
