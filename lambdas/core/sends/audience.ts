/**
 * Who gets what: pure rules shared by the planner (on the eventually consistent audience index) and the
 * worker (on a consistent read right before sending).
 */
import type { Frequency } from '../subscribers/schema.ts';
import type { AudienceChoice, DigestCandidate, DigestFrequency, Recipient, Send, SendContent, SkipReason } from './model.ts';

/** A digest lists at most this many articles, newest first. */
export const MAX_DIGEST_ARTICLES = 25;
/** How far back a digest looks, whatever the subscriber's last digest: after a long outage the next digest is not a whole archive. */
export const DIGEST_LOOKBACK_MS: Record<DigestFrequency, number> = { daily: 7 * 86_400_000, weekly: 31 * 86_400_000 };

export const FREQUENCIES_OF: Record<AudienceChoice, Frequency[]> = {
  instant: ['instant'],
  daily: ['daily'],
  weekly: ['weekly'],
  all: ['instant', 'daily', 'weekly'],
};

/** The audience partitions a newsletter send pages through, in order (a confirmation send pages the pending subscribers instead). */
export function audienceOf(send: Pick<Send, 'kind' | 'frequency'>): Frequency[] {
  if (send.kind === 'digest') return [send.frequency === 'weekly' ? 'weekly' : 'daily'];
  return FREQUENCIES_OF[send.frequency ?? 'instant'];
}

/** A subscriber without topics takes everything; one with topics takes what carries at least one of them. */
export function topicsMatch(subscriberTopics: readonly string[] | undefined, tags: readonly string[]): boolean {
  if (!subscriberTopics || subscriberTopics.length === 0) return true;
  return subscriberTopics.some((t) => tags.includes(t));
}

/**
 * Since when a subscriber's digest counts articles: the later of their last digest (of any frequency, so a
 * switch from daily to weekly does not repeat what they already had) and their confirmation (so someone
 * who subscribed today does not get last month's archive).
 */
export function digestSince(r: Pick<Recipient, 'confirmedAt' | 'lastDigestAt'>): string {
  const candidates = [r.confirmedAt, r.lastDigestAt?.daily, r.lastDigestAt?.weekly].filter((v): v is string => typeof v === 'string');
  return candidates.reduce((max, v) => (v > max ? v : max), '');
}

/** The articles of one subscriber's digest: published after their `since`, matching their topics; empty means no digest. */
export function digestFor(r: Pick<Recipient, 'confirmedAt' | 'lastDigestAt' | 'topics'>, articles: readonly DigestCandidate[]): DigestCandidate[] {
  const since = digestSince(r);
  return articles.filter((a) => a.publishedAt > since && topicsMatch(r.topics, a.tags)).slice(0, MAX_DIGEST_ARTICLES);
}

export type Eligibility =
  | { kind: 'send'; articles?: DigestCandidate[] | undefined }
  | { kind: 'skipped'; code: SkipReason; reason: string }
  | { kind: 'suppressed'; code?: undefined; reason: string };

const skip = (code: SkipReason, reason: string): Eligibility => ({ kind: 'skipped', code, reason });

/** Why a digest has nothing for this subscriber: nothing new at all, or nothing new on their topics. */
export function emptyDigestReason(r: Pick<Recipient, 'confirmedAt' | 'lastDigestAt'>, articles: readonly DigestCandidate[]): SkipReason {
  const since = digestSince(r);
  return articles.some((a) => a.publishedAt > since) ? 'topicsExcludeAll' : 'nothingNew';
}

const STATUS_SKIP: Record<string, SkipReason> = { pending: 'unconfirmed', unsubscribed: 'unsubscribed', confirmed: 'alreadyConfirmed' };

/**
 * Decides, from a consistent read, whether this subscriber gets this send now. Never mailed: a suppressed
 * address, an unsubscribed, unconfirmed or paused subscriber, someone who left the send's audience or
 * topics, and a digest with nothing new. A confirmation request goes to pending subscribers only. Every
 * skip carries a reason code ({@link SkipReason}) and a sentence.
 */
export function eligibility(send: Pick<Send, 'kind' | 'frequency'>, content: SendContent, r: Recipient | undefined, suppressed: boolean): Eligibility {
  if (suppressed) return { kind: 'suppressed', reason: 'the address is on the suppression list' };
  if (!r) return skip('deleted', 'the subscriber no longer exists');
  if (r.status === 'suppressed') return { kind: 'suppressed', reason: 'the subscriber is suppressed' };
  if (content.kind === 'confirmation') {
    // Only someone still pending is asked to confirm (and only this import's, when the send names one).
    if (r.status !== 'pending') return skip(STATUS_SKIP[r.status] ?? 'alreadyConfirmed', `the subscriber is ${r.status}`);
    if (content.importId && r.importId !== content.importId) return skip('otherImport', 'the subscriber is no longer part of this import');
    return { kind: 'send' };
  }
  if (r.status !== 'confirmed') return skip(STATUS_SKIP[r.status] ?? 'unsubscribed', `the subscriber is ${r.status}`);
  if (r.paused) return skip('paused', 'the subscriber paused their mail');
  if (!audienceOf(send).includes(r.frequency)) return skip('frequencyChanged', `the subscriber now receives ${r.frequency} mail`);
  if (content.kind === 'article') {
    return topicsMatch(r.topics, content.article.tags)
      ? { kind: 'send' }
      : skip('topicsExcludeAll', 'the article matches none of the subscriber\u2019s topics');
  }
  const articles = digestFor(r, content.articles);
  if (articles.length > 0) return { kind: 'send', articles };
  return emptyDigestReason(r, content.articles) === 'nothingNew'
    ? skip('nothingNew', 'nothing new since the subscriber\u2019s last digest')
    : skip('topicsExcludeAll', 'new articles since the subscriber\u2019s last digest, but none on their topics');
}

/** A key naming one rendering of a digest (which articles), so recipients with the same selection share it. */
export const variantKey = (articles: readonly { id: string }[] | undefined) => (articles ? articles.map((a) => a.id).join(',') : '');
