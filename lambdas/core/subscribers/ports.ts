import type { Frequency, Subscriber, SubscriberStatus, SuppressionReason } from './schema.ts';

/** An address that must never be mailed: only its hash is kept. */
export interface Suppression {
  emailHash: string;
  reason: SuppressionReason;
  /** ISO 8601. */
  at: string;
}

/**
 * Marks an outside message (an SNS MessageId) as handled, in the same write as the change it causes, so
 * a replayed message changes nothing.
 */
export interface SeenClaim {
  source: string;
  id: string;
  /** Epoch seconds; the record expires after this (TTL). */
  expiresAt: number;
}

export interface SubscriberPage {
  items: Subscriber[];
  next: string | null;
}

export interface SubscriberCounts {
  total: number;
  byStatus: Record<SubscriberStatus, number>;
  /** Confirmed subscribers by frequency (paused ones included). */
  byFrequency: Record<Frequency, number>;
  /** Confirmed subscribers who paused their mail. */
  paused: number;
}

/** What an import needs to know about an address before writing it. */
export interface AddressState {
  subscriber?: Subscriber | undefined;
  suppression?: Suppression | undefined;
}

/**
 * Where subscribers live. An address is unique (an email claim keyed by its hash); every change is
 * conditional on the version read, so concurrent changes never overwrite each other.
 */
/**
 * The mail provider's account-level suppression list (SES's), kept in step with ours: an address
 * suppressed for a hard bounce, a complaint or an erasure is on it, so no mail from the account reaches
 * it whatever sends it; an address whose suppression is lifted (a reader confirms anew) is taken off.
 */
export interface ProviderSuppressions {
  /** Puts the address on the list (again: it is idempotent). */
  add(email: string, reason: 'bounce' | 'complaint'): Promise<void>;
  /** Takes the address off; not being on it is fine. */
  remove(email: string): Promise<void>;
}

export interface SubscriberRepository {
  get(id: string): Promise<Subscriber | undefined>;
  findByEmailHash(emailHash: string): Promise<Subscriber | undefined>;
  getSuppression(emailHash: string): Promise<Suppression | undefined>;
  /** True when the address must not be mailed. The delivery engine checks this before each send. */
  isSuppressed(emailHash: string): Promise<boolean>;
  /** Writes a new subscriber and claims its address. @throws EmailTaken when the address is claimed. */
  create(subscriber: Subscriber): Promise<void>;
  /**
   * Replaces `prev` with `next` when `prev.version` is still current; in the same transaction, optionally
   * puts a suppression (`suppress`), removes the address's suppression (`unsuppress`) and records a seen message.
   * @throws StaleSubscriber when the subscriber changed; AlreadySeen when `seen` was recorded before.
   */
  update(next: Subscriber, prev: Subscriber, options?: { suppress?: Suppression; unsuppress?: boolean; seen?: SeenClaim }): Promise<void>;
  /**
   * Deletes the subscriber and its address claim, keeping only `suppression` (a hash).
   * @throws StaleSubscriber when the subscriber changed.
   */
  erase(prev: Subscriber, suppression: Suppression): Promise<void>;
  /** Suppresses an address that has no subscriber. @throws AlreadySeen when `seen` was recorded before. */
  suppressAddress(suppression: Suppression, seen?: SeenClaim): Promise<void>;
  /** Records a message as handled; false when it was recorded before. */
  markSeen(seen: SeenClaim): Promise<boolean>;
  /** Newest first, optionally one status. */
  list(query: { status?: SubscriberStatus | undefined; limit: number; cursor?: string | undefined }): Promise<SubscriberPage>;
  /** Every subscriber, page by page, without holding them all in memory. */
  all(): AsyncIterable<Subscriber>;
  counts(): Promise<SubscriberCounts>;
  /** For imports: the subscriber and suppression of each address hash (at most 50 per call). */
  lookup(emailHashes: string[]): Promise<Map<string, AddressState>>;
  /**
   * For imports: writes new subscribers and their address claims in bulk (BatchWriteItem, not conditional).
   * The caller has checked with {@link lookup} that the addresses are free.
   */
  createMany(subscribers: Subscriber[]): Promise<void>;
}

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Counts requests per key in fixed windows; refuses past the limit until the window ends. */
export interface RateLimiter {
  hit(scope: string, key: string, limit: RateLimit, now: Date): Promise<RateDecision>;
}

export class EmailTaken extends Error {
  constructor(readonly emailHash: string) {
    super('the address already has a subscriber');
    this.name = 'EmailTaken';
  }
}

export class StaleSubscriber extends Error {
  constructor(readonly id: string) {
    super(`subscriber ${id} changed since it was read`);
    this.name = 'StaleSubscriber';
  }
}

export class AlreadySeen extends Error {
  constructor(readonly id: string) {
    super(`message ${id} was handled before`);
    this.name = 'AlreadySeen';
  }
}

/**
 * Sends the confirmation request to an import's pending subscribers (those carrying its `importId`),
 * off the import itself: paced at the provider's rate, resumable, never twice (the delivery engine).
 */
export interface ConfirmationRequests {
  request(importId: string): Promise<{ sendId: string }>;
}
