import type { Clock } from '../clock.ts';
import type { SiteConfig } from '../site.ts';
import type { Article } from '../articles/schema.ts';
import type { FeedIndex, DocumentStore } from '../feeds/rebuild.ts';
import type { Mailer } from '../email/message.ts';
import type { EmailRenderer } from '../email/templates.ts';
import type { AudienceSource, RecipientLinks, SendQueue, SendRepository } from './ports.ts';
import type { RateLimiter, Semaphore, Sleep } from './pacing.ts';

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
  /** A `sending` claim is written right before its provider call: one older than this belongs to a process that died mid-call, and becomes `uncertain`. */
  inFlightTimeoutMs: number;
  /** Retries of a throttled (or certainly unsent) message within one batch attempt, before the batch is retried later. */
  maxRetries: number;
  retryBaseMs: number;
  retryCapMs: number;
  /** How old this process's reading of a send's status may be when a provider call starts: after a cancel or pause, no call starts once a reading this fresh has seen it. */
  statusCheckMs: number;
  /** Start no provider call when the invocation has less than this left (Lambda); the rest of the batch is handed on. */
  reserveMs: number;
  /** Outcomes are written at least this often (and every 25 records), so a crash leaves few calls without one. */
  outcomeFlushMs: number;
  /** How old the process's reading of the account's 24-hour quota may be before it is read again. */
  quotaCheckMs: number;
  /** A batch throttled through a whole run without one email accepted is handed on after this many seconds, doubled per such hand-on... */
  stallDelaySeconds: number;
  /** ...at most this many times in a row; then it is redelivered, spending a receive. */
  maxStalls: number;
  /**
   * How long after a claim SES's Send event may still come: an `uncertain` record older than this without
   * one never reached SES, and a resume sends it (see `notReached`).
   */
  reportWindowMs: number;
}

/** Delivery records read or written in one request. */
export const MAX_CLAIM_WAVE = 25;

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  perBatch: 50,
  planPageSize: 1000,
  planBudgetMs: 60_000,
  errorThreshold: 0.05,
  errorMinAttempts: 100,
  inFlightTimeoutMs: 60_000,
  maxRetries: 8,
  retryBaseMs: 500,
  retryCapMs: 20_000,
  statusCheckMs: 250,
  reserveMs: 30_000,
  outcomeFlushMs: 1_000,
  quotaCheckMs: 10_000,
  stallDelaySeconds: 30,
  maxStalls: 5,
  reportWindowMs: 15 * 60_000,
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
  /** The account's 24-hour quota, read before each page of a send is queued (a send that does not fit pauses). */
  quota?: Pick<Mailer, 'getSendQuota'> | undefined;
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
  sleep: Sleep;
  random?: (() => number) | undefined;
}

/** What delivery (the send worker) uses, and nothing more: no articles, feeds, archive store or site. */
export type WorkerDeps = Pick<
  DeliveryDeps,
  | 'sends'
  | 'audience'
  | 'queue'
  | 'clock'
  | 'settings'
  | 'mailer'
  | 'renderer'
  | 'links'
  | 'confirmLinks'
  | 'mail'
  | 'limiter'
  | 'providerSlots'
  | 'sleep'
  | 'random'
  | 'log'
>;
