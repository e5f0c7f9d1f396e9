import type { Clock } from '../clock.ts';
import type { SiteConfig } from '../site.ts';
import type { Article } from '../articles/schema.ts';
import type { FeedIndex, DocumentStore } from '../feeds/rebuild.ts';
import type { Mailer } from '../email/message.ts';
import type { EmailRenderer } from '../email/templates.ts';
import type { AudienceSource, RecipientLinks, SendQueue, SendRepository } from './ports.ts';
import type { Permits, RateLimiter, Semaphore, Sleep } from './pacing.ts';

/** Tunables of the delivery engine; every one has a default (see {@link DEFAULT_DELIVERY_SETTINGS}). */
export interface DeliverySettings {
  /** Recipients per queue message (one batch). At most 50: the worker reads a batch's subscribers and suppressions in one BatchGetItem. */
  perBatch: number;
  /** Audience items read per planner page. */
  planPageSize: number;
  /** How long one planner invocation pages before it yields (its last checkpoint's stream record continues). */
  planBudgetMs: number;
  /** Pause a send when more than this share of attempts failed... */
  errorThreshold: number;
  /** ...once at least this many attempts were made. */
  errorMinAttempts: number;
  /** A `sending` claim older than this belongs to a process that died; it becomes `uncertain`. */
  inFlightTimeoutMs: number;
  /** Retries of a throttled (or certainly unsent) message within one batch attempt, before the batch is retried later. */
  maxRetries: number;
  retryBaseMs: number;
  retryCapMs: number;
  /** How often a running batch re-reads its send, to stop promptly on cancel or pause. */
  statusCheckMs: number;
  /** Stop claiming recipients when the invocation has less than this left (Lambda); the rest is retried. */
  reserveMs: number;
  /**
   * A wave claims (one conditional write) about as many recipients as this process sends in this time, at
   * most {@link MAX_CLAIM_WAVE} and at most half the process's claim permits (see {@link DeliveryDeps.claims}).
   */
  claimAheadMs: number;
}

/**
 * Recipients claimed in one conditional write (a transaction of up to 100 actions holds a whole batch):
 * at a high rate a batch is claimed in one request and its outcomes recorded in two.
 */
export const MAX_CLAIM_WAVE = 50;

/**
 * Claim permits for a process with `inFlight` provider calls: 4 per call slot, and room for two full
 * waves, so one wave's claim and outcome writes overlap the other's sending. Bounds how many recipients
 * a crash can leave `uncertain` (only at rates high enough to fill a wave in {@link DeliverySettings.claimAheadMs}).
 */
export function claimPermitsFor(inFlight: number): number {
  return Math.max(inFlight * 4, 2 * MAX_CLAIM_WAVE);
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  perBatch: 50,
  planPageSize: 1000,
  planBudgetMs: 60_000,
  errorThreshold: 0.05,
  errorMinAttempts: 100,
  inFlightTimeoutMs: 120_000,
  maxRetries: 8,
  retryBaseMs: 500,
  retryCapMs: 20_000,
  statusCheckMs: 1_000,
  reserveMs: 30_000,
  claimAheadMs: 1000,
};

/** How newsletter mail is addressed. */
export interface MailSettings {
  from: { name: string; address: string };
  replyTo?: { name?: string | undefined; address: string } | undefined;
  /** The newsletter configuration set. */
  configurationSet: string;
  /** The transactional configuration set: confirmation requests go through it, as the form's confirmation mail does. */
  transactionalConfigurationSet: string;
  /** RFC 2919 `List-Id`, e.g. `formatListId(site.title, 'news.example.com')`. */
  listId: string;
}

/** What planning and the send API need. */
export interface SendDeps {
  sends: SendRepository;
  audience: AudienceSource;
  queue: SendQueue;
  articles: { get(id: string): Promise<Article | undefined> };
  feed: Pick<FeedIndex, 'newest' | 'articles'>;
  clock: Clock;
  site: SiteConfig;
  settings: DeliverySettings;
  /** Where digest archive pages and feeds go (S3 in AWS, the public folder locally). */
  store?: DocumentStore | undefined;
  log?: ((msg: string, detail?: unknown) => void) | undefined;
}

/** What sending needs besides. Build once per process: the limiter and the slots are shared by every batch. */
export interface DeliveryDeps extends SendDeps {
  mailer: Mailer;
  renderer: EmailRenderer;
  links: RecipientLinks;
  /** A subscriber's signed confirmation page link (confirmation sends). */
  confirmLinks: (subscriberId: string) => string;
  mail: MailSettings;
  /** Paces provider calls to this process's share of the account's rate. */
  limiter: RateLimiter;
  /** Provider calls in flight at once in this process. */
  providerSlots: Semaphore;
  /**
   * Recipients this process may hold claimed without a recorded outcome, all batches together: what a
   * crash of this process can leave `uncertain` at most. About four times the provider slots.
   */
  claims: Permits;
  sleep: Sleep;
  random?: (() => number) | undefined;
}
