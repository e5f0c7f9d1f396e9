import { isOneClickUrl } from '../email/message.ts';
import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { SiteConfig } from '../site.ts';
import { newId } from '../ids.ts';
import type { Mailbox, Mailer, OutgoingEmail } from '../email/message.ts';
import type { EmailRenderer } from '../email/templates.ts';
import { confirmationLink, LINK_TTL_DAYS, subscriberLinks, tokenFromMailtoSubject } from './links.ts';
import type { TokenSigner } from './tokens.ts';
import {
  AlreadySeen,
  EmailTaken,
  StaleSubscriber,
  type ConfirmationRequests,
  type ProviderSuppressions,
  type SeenClaim,
  type SubscriberCounts,
  type SubscriberPage,
  type SubscriberRepository,
} from './ports.ts';
import { emailHash, type Frequency, type PreferencesInput, type Subscriber, type SubscriberStatus, type SubscribeInput } from './schema.ts';

/** Sender identity of the mail subscribers get from this module (confirmation, welcome). */
export interface SubscriberMailSettings {
  from: { name: string; address: string };
  replyTo?: Mailbox | undefined;
  /** SES configuration set for transactional mail (confirmation, welcome), apart from newsletters. */
  transactionalConfigurationSet: string;
  /** RFC 2919 List-Id of the newsletter, e.g. `Thin Line News <news.example.com>`. */
  listId: string;
  /** Mailbox that receives mailto unsubscribes (SES receiving), when there is one. */
  unsubscribeMailbox?: string | undefined;
}

export interface SubscriberSettings {
  /** Frequency of a subscriber who did not choose one. */
  defaultFrequency: Frequency;
  /** Transient bounces after which an address is suppressed. */
  softBounceThreshold: number;
}

export interface SubscriberDeps {
  subscribers: SubscriberRepository;
  /** The provider's account-level suppression list, mirrored (absent: not kept in step, e.g. in tests of other things). */
  providerSuppressions?: ProviderSuppressions | undefined;
  mailer: Mailer;
  emails: EmailRenderer;
  signer: TokenSigner;
  clock: Clock;
  site: SiteConfig;
  mail: SubscriberMailSettings;
  settings: SubscriberSettings;
  /** Confirmation sends for imports (the delivery engine); an import asking for confirmations needs it. */
  confirmations?: ConfirmationRequests | undefined;
  log?: ((msg: string, detail: unknown) => void) | undefined;
  /** Told what each {@link subscribe} did (the AWS composition counts it as a metric); never shown to the reader. */
  onSubscribed?: ((outcome: SubscribeOutcome) => void) | undefined;
}

export async function suppressAtProvider(list: ProviderSuppressions, email: string, reason: 'bounce' | 'complaint'): Promise<void> {
  try {
    await list.add(email, reason);
  } catch (cause) {
    throw new AppError('dependency.unavailable', 'could not add the address to the provider\u2019s suppression list; try again', { cause });
  }
}

async function liftAtProvider(list: ProviderSuppressions, email: string): Promise<void> {
  try {
    await list.remove(email);
  } catch (cause) {
    throw new AppError('dependency.unavailable', 'could not take the address off the provider\u2019s suppression list; try again', { cause });
  }
}

/** What the provider's events need of the subscribers module: no mailer, no templates. */
export type MailEventDeps = Pick<SubscriberDeps, 'subscribers' | 'providerSuppressions' | 'signer' | 'clock' | 'settings' | 'log'>;

const MAX_ATTEMPTS = 4;

const conflict = (id: string) => new AppError('internal.unexpected', `subscriber ${id} is being changed by several requests at once; try again`);

/** What `subscribe` did. The HTTP answer never shows it: it is the same whatever the address's state. */
export type SubscribeOutcome = 'created' | 'confirmationResent' | 'alreadyConfirmed' | 'blocked';

function log(deps: SubscriberDeps, msg: string, detail: unknown): void {
  (deps.log ?? ((m: string, d: unknown) => console.error(m, d)))(msg, detail);
}

function bump(prev: Subscriber, now: Date, change: Partial<Subscriber>): Subscriber {
  return { ...prev, ...change, updatedAt: now.toISOString(), version: prev.version + 1 };
}

/**
 * Double opt-in, step one. A new address becomes `pending` and gets a confirmation email; a pending,
 * unsubscribed or bounced one gets the confirmation again (and the latest preferences); a confirmed one
 * is left exactly as it is (never downgraded, preferences untouched: only its owner changes them through
 * a signed link); an address that reported spam gets nothing. The caller answers the same in every case.
 */
export async function subscribe(deps: SubscriberDeps, input: SubscribeInput): Promise<SubscribeOutcome> {
  const outcome = await subscribeAddress(deps, input);
  deps.onSubscribed?.(outcome);
  return outcome;
}

async function subscribeAddress(deps: SubscriberDeps, input: SubscribeInput): Promise<SubscribeOutcome> {
  const hash = emailHash(input.email);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const now = deps.clock.now();
    const existing = await deps.subscribers.findByEmailHash(hash);
    if (!existing) {
      const suppression = await deps.subscribers.getSuppression(hash);
      if (suppression?.reason === 'complaint') return 'blocked';
      const subscriber: Subscriber = {
        id: newId(now),
        email: input.email,
        emailHash: hash,
        ...(input.name ? { name: input.name } : {}),
        status: 'pending',
        frequency: input.frequency ?? deps.settings.defaultFrequency,
        topics: input.topics ?? [],
        paused: false,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        softBounces: 0,
        ...(suppression ? { suppressedReason: suppression.reason } : {}),
        source: 'form',
        version: 1,
      };
      try {
        await deps.subscribers.create(subscriber);
      } catch (e) {
        if (e instanceof EmailTaken) continue;
        throw e;
      }
      await sendConfirmation(deps, subscriber);
      return 'created';
    }
    if (existing.status === 'confirmed') return 'alreadyConfirmed';
    if (existing.status === 'suppressed' && existing.suppressedReason === 'complaint') return 'blocked';
    const next = bump(existing, now, {
      status: 'pending',
      name: input.name ?? existing.name,
      frequency: input.frequency ?? existing.frequency,
      topics: input.topics ?? existing.topics,
      paused: false,
    });
    try {
      await deps.subscribers.update(next, existing);
    } catch (e) {
      if (e instanceof StaleSubscriber) continue;
      throw e;
    }
    await sendConfirmation(deps, next);
    return 'confirmationResent';
  }
  throw conflict(hash.slice(0, 12));
}

const sendable = (s: Subscriber) => ({ address: s.email, ...(s.name ? { name: s.name } : {}) });

/**
 * Sends the confirmation email. A mail failure is logged, not thrown: the subscribe answer must not
 * differ by address, and the reader can submit the form again.
 */
export async function sendConfirmation(deps: SubscriberDeps, s: Subscriber): Promise<boolean> {
  try {
    const now = deps.clock.now();
    const rendered = await deps.emails.render('confirm', { recipient: { name: s.name, confirmUrl: confirmationLink(deps.site, deps.signer, s.id, now) } });
    await deps.mailer.send(baseEmail(deps, s, rendered, 'confirm'));
    return true;
  } catch (e) {
    log(deps, 'confirmation email not sent', { subscriberId: s.id, error: e });
    return false;
  }
}

function baseEmail(deps: SubscriberDeps, s: Subscriber, rendered: { subject: string; html: string; text: string }, kind: string): OutgoingEmail {
  return {
    from: deps.mail.from,
    to: sendable(s),
    ...(deps.mail.replyTo ? { replyTo: deps.mail.replyTo } : {}),
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    tags: { kind, subscriber_id: s.id },
    configurationSet: deps.mail.transactionalConfigurationSet,
    messageStreamKind: 'transactional',
  };
}

/**
 * The welcome email after confirming. It answers the reader's own action, so it goes through the
 * transactional configuration set; it still carries List-Unsubscribe when the site is served over https
 * (RFC 8058 requires https, so a local http runtime sends it without).
 */
async function sendWelcome(deps: SubscriberDeps, s: Subscriber): Promise<void> {
  try {
    const now = deps.clock.now();
    const links = subscriberLinks(deps.site, deps.signer, s.id, now, deps.mail.unsubscribeMailbox);
    const rendered = await deps.emails.render('welcome', {
      frequency: s.frequency,
      recipient: { name: s.name, unsubscribeUrl: links.unsubscribeUrl, preferencesUrl: links.preferencesUrl },
    });
    const email = baseEmail(deps, s, rendered, 'welcome');
    if (isOneClickUrl(links.unsubscribeUrl)) {
      email.headers = { listUnsubscribeUrl: links.unsubscribeUrl, listUnsubscribeMailto: links.unsubscribeMailto, listId: deps.mail.listId };
    }
    await deps.mailer.send(email);
  } catch (e) {
    log(deps, 'welcome email not sent', { subscriberId: s.id, error: e });
  }
}

const noLongerValid = () => new AppError('subscriber.tokenInvalid', 'this confirmation link is no longer valid; subscribe again to get a new one');

/**
 * Double opt-in, step two, from the POST of the confirmation page. Confirming twice is harmless (no
 * second welcome); a link for a subscriber who has since unsubscribed, been suppressed or erased confirms nothing.
 */
export async function confirmSubscription(deps: SubscriberDeps, token: string): Promise<{ outcome: 'confirmed' | 'alreadyConfirmed'; subscriber: Subscriber }> {
  const { subscriberId } = deps.signer.verify(token, 'confirm', deps.clock.now());
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const prev = await deps.subscribers.get(subscriberId);
    if (!prev) throw noLongerValid();
    if (prev.status === 'confirmed') return { outcome: 'alreadyConfirmed', subscriber: prev };
    if (prev.status !== 'pending') throw noLongerValid();
    const now = deps.clock.now();
    const next = bump(prev, now, {
      status: 'confirmed',
      confirmedAt: now.toISOString(),
      suppressedReason: undefined,
      softBounces: 0,
      unsubscribedAt: undefined,
    });
    // Confirming anew lifts an earlier suppression (erasure, bounce) of the address: at the provider first,
    // so that a failure there leaves everything as it was (the reader can confirm again).
    if (deps.providerSuppressions && (await deps.subscribers.getSuppression(prev.emailHash))) await liftAtProvider(deps.providerSuppressions, prev.email);
    try {
      await deps.subscribers.update(next, prev, { unsuppress: true });
    } catch (e) {
      if (e instanceof StaleSubscriber) continue;
      throw e;
    }
    await sendWelcome(deps, next);
    return { outcome: 'confirmed', subscriber: next };
  }
  throw conflict(subscriberId);
}

/** Checks a confirmation token without changing anything (the GET of the confirmation page). */
export async function peekConfirmation(deps: SubscriberDeps, token: string): Promise<Subscriber> {
  const { subscriberId } = deps.signer.verify(token, 'confirm', deps.clock.now());
  const s = await deps.subscribers.get(subscriberId);
  if (!s || (s.status !== 'pending' && s.status !== 'confirmed')) throw noLongerValid();
  return s;
}

const gone = () => new AppError('subscriber.notFound', 'there is no subscription for this link any more');

/** The subscriber a preference link belongs to. */
export async function getPreferences(deps: SubscriberDeps, token: string): Promise<Subscriber> {
  const { subscriberId } = deps.signer.verify(token, 'preferences', deps.clock.now());
  const s = await deps.subscribers.get(subscriberId);
  if (!s) throw gone();
  return s;
}

/** Applies a preference change at once (the audience index follows `paused` in the same write). */
export async function updatePreferences(deps: SubscriberDeps, token: string, input: PreferencesInput): Promise<Subscriber> {
  const { subscriberId } = deps.signer.verify(token, 'preferences', deps.clock.now());
  return change(deps, subscriberId, (prev) => {
    if (prev.frequency === input.frequency && prev.paused === input.paused && sameTopics(prev.topics, input.topics)) return undefined;
    return { frequency: input.frequency, topics: input.topics, paused: input.paused };
  });
}

/**
 * Undoes an unsubscribe from the preference page. The signed link proves the reader holds the mailbox,
 * so a subscriber who had confirmed before is confirmed again at once; one who never confirmed gets a
 * new confirmation email. A suppressed address must use the public form (and confirm).
 */
export async function resubscribe(deps: SubscriberDeps, token: string): Promise<Subscriber> {
  const { subscriberId } = deps.signer.verify(token, 'preferences', deps.clock.now());
  let sendConfirm = false;
  const s = await change(deps, subscriberId, (prev) => {
    if (prev.status === 'suppressed') {
      throw new AppError('subscriber.suppressed', 'mail to this address bounced or was reported as spam; subscribe again through the form and confirm');
    }
    if (prev.status !== 'unsubscribed') return undefined;
    sendConfirm = !prev.confirmedAt;
    return prev.confirmedAt
      ? { status: 'confirmed', unsubscribedAt: undefined, paused: false }
      : { status: 'pending', unsubscribedAt: undefined, paused: false };
  });
  if (sendConfirm) await sendConfirmation(deps, s);
  return s;
}

export type UnsubscribeOutcome = 'unsubscribed' | 'alreadyUnsubscribed' | 'unknown';

/**
 * Unsubscribes at once (RFC 8058 one-click POST, the page's button, a mailto). Idempotent; a link of an
 * erased subscriber succeeds too, since there is nobody left to mail.
 */
/**
 * `seen`: the message that asked (a mailto unsubscribe), recorded in the same write as the change, so a
 * replay of it changes nothing (not even after the subscriber subscribed again) and a failed write
 * leaves it to be retried. @throws AlreadySeen when that message was handled before.
 */
export async function unsubscribe(deps: MailEventDeps, token: string, seen?: SeenClaim): Promise<{ outcome: UnsubscribeOutcome; subscriber?: Subscriber }> {
  const { subscriberId } = deps.signer.verify(token, 'unsubscribe', deps.clock.now());
  const nothingToDo = async () => {
    if (seen && !(await deps.subscribers.markSeen(seen))) throw new AlreadySeen(seen.id);
  };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const prev = await deps.subscribers.get(subscriberId);
    if (!prev) {
      await nothingToDo();
      return { outcome: 'unknown' };
    }
    if (prev.status === 'unsubscribed' || prev.status === 'suppressed') {
      await nothingToDo();
      return { outcome: 'alreadyUnsubscribed', subscriber: prev };
    }
    const now = deps.clock.now();
    const next = bump(prev, now, { status: 'unsubscribed', unsubscribedAt: now.toISOString() });
    try {
      await deps.subscribers.update(next, prev, seen ? { seen } : {});
    } catch (e) {
      if (e instanceof StaleSubscriber) continue;
      throw e;
    }
    return { outcome: 'unsubscribed', subscriber: next };
  }
  throw conflict(subscriberId);
}

/** A mailto unsubscribe (SES receiving): the token is in the subject, `unsubscribe <token>`. */
export async function unsubscribeByMail(deps: MailEventDeps, subject: string, seen?: SeenClaim): Promise<UnsubscribeOutcome> {
  const token = tokenFromMailtoSubject(subject);
  if (!token) throw new AppError('subscriber.tokenInvalid', 'no unsubscribe token in the subject');
  return (await unsubscribe(deps, token, seen)).outcome;
}

/** An unsubscribe token for a subscriber, for the preference page's own button. */
export function unsubscribeTokenFor(deps: Pick<SubscriberDeps, 'signer' | 'clock'>, subscriberId: string): string {
  return deps.signer.sign({ subscriberId, purpose: 'unsubscribe', expiresAt: new Date(deps.clock.now().getTime() + LINK_TTL_DAYS * 86_400_000) });
}

async function change(deps: SubscriberDeps, id: string, fn: (prev: Subscriber) => Partial<Subscriber> | undefined): Promise<Subscriber> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const prev = await deps.subscribers.get(id);
    if (!prev) throw gone();
    const patch = fn(prev);
    if (!patch) return prev;
    const next = bump(prev, deps.clock.now(), patch);
    try {
      await deps.subscribers.update(next, prev);
    } catch (e) {
      if (e instanceof StaleSubscriber) continue;
      throw e;
    }
    return next;
  }
  throw conflict(id);
}

function sameTopics(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

// ---- Publisher API

/**
 * A page of subscribers, newest first. With `email`, the page holds the one subscriber with that exact
 * address (case does not matter; found by its hash), or none, and has no next page.
 */
export async function listSubscribers(
  deps: Pick<SubscriberDeps, 'subscribers'>,
  query: { status?: SubscriberStatus | undefined; limit: number; cursor?: string | undefined; email?: string | undefined },
): Promise<SubscriberPage> {
  if (query.email !== undefined) {
    const found = await deps.subscribers.findByEmailHash(emailHash(query.email));
    return { items: found && (!query.status || found.status === query.status) ? [found] : [], next: null };
  }
  return deps.subscribers.list({ status: query.status, limit: query.limit, cursor: query.cursor });
}

export async function getSubscriber(deps: Pick<SubscriberDeps, 'subscribers'>, id: string): Promise<Subscriber> {
  const s = await deps.subscribers.get(id);
  if (!s) throw new AppError('subscriber.notFound', `no subscriber with id ${id}`);
  return s;
}

/**
 * Erases a subscriber's personal data (GDPR art. 17). Only a hash of the address stays, on the
 * suppression list, so the address is never mailed again unless it subscribes and confirms anew.
 */
export async function eraseSubscriber(deps: Pick<SubscriberDeps, 'subscribers' | 'clock' | 'providerSuppressions'>, id: string): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const prev = await getSubscriber(deps, id);
    // The provider's list is told first (a failure there erases nothing; try again). SES knows only bounces
    // and complaints: an erasure goes on as a bounce, which newsletters honour and the confirmation email
    // does not (infra/mail-settings.ts), so a reader who comes back can still confirm.
    if (deps.providerSuppressions) await suppressAtProvider(deps.providerSuppressions, prev.email, 'bounce');
    try {
      await deps.subscribers.erase(prev, { emailHash: prev.emailHash, reason: prev.suppressedReason ?? 'erased', at: deps.clock.now().toISOString() });
      return;
    } catch (e) {
      if (e instanceof StaleSubscriber) continue;
      throw e;
    }
  }
  throw conflict(id);
}

export function countSubscribers(deps: Pick<SubscriberDeps, 'subscribers'>): Promise<SubscriberCounts> {
  return deps.subscribers.counts();
}
