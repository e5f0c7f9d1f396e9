import * as z from 'zod';
import { AppError } from '../errors.ts';
import { AlreadySeen, StaleSubscriber, type SeenClaim } from './ports.ts';
import { emailHash, type Subscriber, type SuppressionReason } from './schema.ts';
import { suppressAtProvider, unsubscribeByMail, type MailEventDeps } from './use-cases.ts';

/** How long a handled SNS message id is remembered. Messages older than a day are refused, so this is ample. */
export const SEEN_TTL_SECONDS = 7 * 86_400;

const Recipients = z.array(z.object({ emailAddress: z.string().max(320) }).loose()).max(100);

/**
 * The SES event, in either shape SES publishes to SNS: configuration-set event publishing (`eventType`)
 * or identity notifications (`notificationType`). Only the fields we use are read.
 */
const SesEventSchema = z
  .object({
    eventType: z.string().optional(),
    notificationType: z.string().optional(),
    mail: z
      .object({
        messageId: z.string().optional(),
        tags: z.record(z.string(), z.array(z.string())).optional(),
        commonHeaders: z.object({ subject: z.string().optional() }).loose().optional(),
        destination: z.array(z.string()).optional(),
      })
      .loose()
      .optional(),
    bounce: z.object({ bounceType: z.string(), bouncedRecipients: Recipients }).loose().optional(),
    complaint: z.object({ complainedRecipients: Recipients, complaintFeedbackType: z.string().optional() }).loose().optional(),
    delivery: z
      .object({ recipients: z.array(z.string()).max(100) })
      .loose()
      .optional(),
    receipt: z
      .object({ recipients: z.array(z.string()).optional() })
      .loose()
      .optional(),
  })
  .loose();

export type SesEventResult = { type: 'bounce' | 'complaint' | 'delivery' | 'received'; changes: RecipientChange[] } | { type: 'ignored'; reason: string };

export interface RecipientChange {
  /** First 12 hex digits of the address hash, for logs (never the address). */
  recipient: string;
  result: 'suppressed' | 'softBounce' | 'reset' | 'unchanged' | 'duplicate' | 'unsubscribed';
  subscriberId?: string | undefined;
}

const RANK: Record<SuppressionReason, number> = { erased: 0, softBounces: 1, bounce: 2, complaint: 3 };

/**
 * Applies one SES event (already verified: it came through our SNS topic). A hard bounce or a complaint
 * suppresses the address at once; transient bounces are counted and suppress at the threshold; a delivery
 * resets the count. Each change is written with the SNS message id in the same transaction, so a replayed
 * message changes nothing.
 *
 * Recipients are matched by the `subscriber_id` message tag when present (and when its address matches),
 * otherwise by the hash of the address.
 */
export async function handleSesEvent(deps: MailEventDeps, snsMessageId: string, body: unknown): Promise<SesEventResult> {
  const parsed = SesEventSchema.safeParse(body);
  if (!parsed.success) throw new AppError('sns.messageInvalid', 'the notification does not hold an SES event');
  const event = parsed.data;
  const type = (event.eventType ?? event.notificationType ?? '').toLowerCase();
  const now = deps.clock.now();
  const seenFor = (i: number): SeenClaim => ({
    source: 'sns',
    id: i === 0 ? snsMessageId : `${snsMessageId}#${i}`,
    expiresAt: Math.floor(now.getTime() / 1000) + SEEN_TTL_SECONDS,
  });
  const taggedId = event.mail?.tags?.subscriber_id?.[0];

  if (type === 'bounce' && event.bounce) {
    const permanent = event.bounce.bounceType === 'Permanent';
    const changes: RecipientChange[] = [];
    for (const [i, r] of event.bounce.bouncedRecipients.entries()) {
      changes.push(await (permanent ? suppress(deps, r.emailAddress, 'bounce', taggedId, seenFor(i)) : softBounce(deps, r.emailAddress, taggedId, seenFor(i))));
    }
    return { type: 'bounce', changes };
  }
  if (type === 'complaint' && event.complaint) {
    // A recipient who marks a message "not spam" in a feedback loop is not complaining.
    if (event.complaint.complaintFeedbackType === 'not-spam') return { type: 'ignored', reason: 'not-spam feedback' };
    const changes: RecipientChange[] = [];
    for (const [i, r] of event.complaint.complainedRecipients.entries()) changes.push(await suppress(deps, r.emailAddress, 'complaint', taggedId, seenFor(i)));
    return { type: 'complaint', changes };
  }
  if (type === 'delivery' && event.delivery) {
    const changes: RecipientChange[] = [];
    for (const [i, address] of event.delivery.recipients.entries()) changes.push(await delivered(deps, address, taggedId, seenFor(i)));
    return { type: 'delivery', changes };
  }
  if (type === 'received') {
    // SES receiving (a receipt rule with an SNS action) for the mailto List-Unsubscribe: the token is the subject.
    const subject = event.mail?.commonHeaders?.subject ?? '';
    try {
      // The message is recorded as handled in the same write as the unsubscribe, never before it.
      const outcome = await unsubscribeByMail(deps, subject, seenFor(0));
      return { type: 'received', changes: [{ recipient: '', result: outcome === 'unsubscribed' ? 'unsubscribed' : 'unchanged' }] };
    } catch (e) {
      if (e instanceof AlreadySeen) return { type: 'received', changes: [{ recipient: '', result: 'duplicate' }] };
      if (e instanceof AppError && (e.code === 'subscriber.tokenInvalid' || e.code === 'subscriber.tokenExpired'))
        return { type: 'ignored', reason: e.message };
      throw e;
    }
  }
  return { type: 'ignored', reason: `event type ${type || '(none)'} is not handled` };
}

async function findSubscriber(deps: MailEventDeps, hash: string, taggedId: string | undefined): Promise<Subscriber | undefined> {
  if (taggedId && /^[A-Za-z0-9_-]{1,64}$/.test(taggedId)) {
    const s = await deps.subscribers.get(taggedId);
    // A tag is trusted only when it names the subscriber this address belongs to.
    if (s && s.emailHash === hash) return s;
  }
  return deps.subscribers.findByEmailHash(hash);
}

/** Runs `attempt` again when the subscriber changed in between; a replayed message ends as `duplicate`. */
async function withRetry(recipient: string, attempt: () => Promise<RecipientChange>): Promise<RecipientChange> {
  for (let i = 0; i < 4; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof AlreadySeen) return { recipient, result: 'duplicate' };
      if (e instanceof StaleSubscriber) continue;
      throw e;
    }
  }
  throw new AppError('internal.unexpected', 'the subscriber kept changing while a bounce was applied; SNS will retry');
}

async function suppress(
  deps: MailEventDeps,
  address: string,
  reason: 'bounce' | 'complaint',
  taggedId: string | undefined,
  seen: SeenClaim,
): Promise<RecipientChange> {
  const hash = emailHash(address);
  const recipient = hash.slice(0, 12);
  // SES's account-level list first (idempotent): should the write here fail, the event comes again and
  // finds it done; done the other way round, a replay would stop at "duplicate" before reaching SES.
  if (deps.providerSuppressions) await suppressAtProvider(deps.providerSuppressions, address, reason);
  return withRetry(recipient, async () => {
    const at = deps.clock.now().toISOString();
    const s = await findSubscriber(deps, hash, taggedId);
    const existing = await deps.subscribers.getSuppression(hash);
    const strongest = existing && RANK[existing.reason] >= RANK[reason] ? existing.reason : reason;
    const suppression = { emailHash: hash, reason: strongest, at };
    if (s && (s.status !== 'suppressed' || s.suppressedReason !== strongest)) {
      const next: Subscriber = { ...s, status: 'suppressed', suppressedReason: strongest, updatedAt: at, version: s.version + 1 };
      await deps.subscribers.update(next, s, { suppress: suppression, seen });
      return { recipient, result: 'suppressed', subscriberId: s.id };
    }
    if (existing && existing.reason === strongest) {
      if (!(await deps.subscribers.markSeen(seen))) return { recipient, result: 'duplicate' };
      return { recipient, result: 'unchanged', subscriberId: s?.id };
    }
    await deps.subscribers.suppressAddress(suppression, seen);
    return { recipient, result: 'suppressed', subscriberId: s?.id };
  });
}

function softBounce(deps: MailEventDeps, address: string, taggedId: string | undefined, seen: SeenClaim): Promise<RecipientChange> {
  const hash = emailHash(address);
  const recipient = hash.slice(0, 12);
  return withRetry(recipient, async () => {
    const s = await findSubscriber(deps, hash, taggedId);
    // Soft bounces of an address we do not know (or no longer mail) change nothing.
    if (!s || s.status === 'suppressed') {
      if (!(await deps.subscribers.markSeen(seen))) return { recipient, result: 'duplicate' };
      return { recipient, result: 'unchanged', subscriberId: s?.id };
    }
    const at = deps.clock.now().toISOString();
    const softBounces = s.softBounces + 1;
    if (softBounces >= deps.settings.softBounceThreshold) {
      const next: Subscriber = { ...s, softBounces, status: 'suppressed', suppressedReason: 'softBounces', updatedAt: at, version: s.version + 1 };
      await deps.subscribers.update(next, s, { suppress: { emailHash: hash, reason: 'softBounces', at }, seen });
      return { recipient, result: 'suppressed', subscriberId: s.id };
    }
    await deps.subscribers.update({ ...s, softBounces, updatedAt: at, version: s.version + 1 }, s, { seen });
    return { recipient, result: 'softBounce', subscriberId: s.id };
  });
}

function delivered(deps: MailEventDeps, address: string, taggedId: string | undefined, seen: SeenClaim): Promise<RecipientChange> {
  const hash = emailHash(address);
  const recipient = hash.slice(0, 12);
  return withRetry(recipient, async () => {
    const s = await findSubscriber(deps, hash, taggedId);
    // Most deliveries change nothing; they cost a read, not a write.
    if (!s || s.softBounces === 0 || s.status === 'suppressed') return { recipient, result: 'unchanged', subscriberId: s?.id };
    await deps.subscribers.update({ ...s, softBounces: 0, updatedAt: deps.clock.now().toISOString(), version: s.version + 1 }, s, { seen });
    return { recipient, result: 'reset', subscriberId: s.id };
  });
}
