/**
 * The words of sending (see the glossary): a **Send** is one newsletter mailing (an article alert, a
 * digest); it is **planned** by paging the audience into **Batches** (one queue message each); every
 * recipient of a batch gets a **Delivery** record, written before the provider is called. A delivery
 * is **Submitted** once the provider accepted the message (Submitted is not Delivered), **Uncertain**
 * when the call may or may not have reached the provider (a process died mid-call), and never sent twice.
 * A **confirmation** send asks pending subscribers (all, or one import's) to confirm: the same engine,
 * the transactional configuration set, no newsletter headers.
 */
import type { Frequency } from '../subscribers/schema.ts';

export type SendKind = 'article' | 'digest' | 'confirmation';
/** What created the send: an article's first publication, a digest schedule, the publisher's API call, or an import asking its rows to confirm. */
export type SendTrigger = 'publish' | 'schedule' | 'api' | 'import';
export type DigestFrequency = 'daily' | 'weekly';
/** Whose mail an article send goes to: one frequency's audience, or every confirmed subscriber. */
export type AudienceChoice = Frequency | 'all';

/**
 * - `pending`: created, not yet picked up.
 * - `planning`: the audience is being paged into batches (batches already queued are being sent).
 * - `sending`: every batch is queued; waiting for the last ones.
 * - `paused`: stopped by the error threshold or an account-wide provider error; `reason` says why. Resumable.
 * - `cancelled`: stopped by the publisher. Resumable.
 * - `completed`: no recipient is left to try; the counts are exact (recounted from the delivery ledger).
 * - `expired`: its deadline passed before it could finish (the system was down, or it was paused too long);
 *   what was left is not sent stale. `reason` says so.
 * - `failed`: could not start (the article was unpublished or deleted before sending).
 */
export type SendStatus = 'pending' | 'planning' | 'sending' | 'paused' | 'cancelled' | 'completed' | 'expired' | 'failed';
export const SEND_STATUSES: readonly SendStatus[] = ['pending', 'planning', 'sending', 'paused', 'cancelled', 'completed', 'expired', 'failed'];
/** Statuses in which workers deliver. */
export const DELIVERING: readonly SendStatus[] = ['planning', 'sending'];
export const RESUMABLE: readonly SendStatus[] = ['paused', 'cancelled', 'planning', 'sending'];
export const CANCELLABLE: readonly SendStatus[] = ['pending', 'planning', 'sending', 'paused'];

export const COUNT_NAMES = ['planned', 'submitted', 'failed', 'suppressed', 'skipped', 'uncertain'] as const;
export type CountName = (typeof COUNT_NAMES)[number];
/**
 * - `planned`: recipients in the send's audience (topic filters applied).
 * - `submitted`: the provider accepted the message.
 * - `failed`: the provider refused it (or it could not be built); `errors` says why.
 * - `suppressed`: the address is on the suppression list (bounce, complaint) or the subscriber is suppressed.
 * - `skipped`: no longer eligible at send time (unsubscribed, paused, changed frequency or topics) or a
 *   digest with nothing new for this subscriber.
 * - `uncertain`: the call was in flight when a process died; reported, never sent again.
 */
export type SendCounts = Record<CountName, number>;
export const zeroCounts = (): SendCounts => ({ planned: 0, submitted: 0, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
/** Recipients with a final outcome. */
export const doneCount = (c: SendCounts) => c.submitted + c.failed + c.suppressed + c.skipped + c.uncertain;

/**
 * Why a recipient was skipped, one code each (shown per send in `skippedBy`):
 * - `nothingNew`: a digest with no article published since the subscriber's last digest (or confirmation);
 * - `topicsExcludeAll`: there were new articles (or this article), but none carries one of the subscriber's topics;
 * - `unsubscribed`, `unconfirmed`, `paused`: the subscriber's state at send time;
 * - `frequencyChanged`: the subscriber now receives mail of another frequency;
 * - `deleted`: the subscriber was erased after the send was planned;
 * - `alreadyConfirmed`, `otherImport`: a confirmation request to someone no longer pending, or no longer in the import.
 */
export const SKIP_REASONS = [
  'nothingNew',
  'topicsExcludeAll',
  'unsubscribed',
  'unconfirmed',
  'paused',
  'frequencyChanged',
  'deleted',
  'alreadyConfirmed',
  'otherImport',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];
export type SkipCounts = Record<SkipReason, number>;
export const zeroSkips = (): SkipCounts => Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as SkipCounts;
export const isSkipReason = (code: string | undefined): code is SkipReason => (SKIP_REASONS as readonly string[]).includes(code ?? '');

export interface SendErrorSummary {
  count: number;
  /** One example message for the code. */
  message?: string | undefined;
}

export interface PlanState {
  /** Where the audience paging stopped: an opaque cursor, absent at the start. */
  cursor?: string | undefined;
  done: boolean;
  pages: number;
  /** Batches queued in this generation. */
  batches: number;
  /** Digest subscribers this generation's plan left out because nothing is new for them (counted as skipped). */
  skipped: number;
  /** The same, by reason (`nothingNew` or `topicsExcludeAll`). */
  skippedBy: Partial<SkipCounts>;
  /** Recipients per batch, fixed when planning starts. */
  perBatch: number;
}

export interface Send {
  id: string;
  kind: SendKind;
  trigger: SendTrigger;
  status: SendStatus;
  createdAt: string;
  /** After this instant nothing more of the send goes out. */
  deadline: string;
  updatedAt?: string | undefined;
  articleId?: string | undefined;
  /** Digest: `daily` or `weekly`. Article: whose mail (`instant` by default). */
  frequency?: AudienceChoice | undefined;
  /** Narrows the send: an article goes to subscribers of these topics; a digest holds only articles with these tags. */
  topics?: string[] | undefined;
  subject?: string | undefined;
  intro?: string | undefined;
  /** Plans and counts the audience without sending. */
  dryRun?: boolean | undefined;
  /** Digest: articles published up to this instant are in it (and `lastDigestAt` moves to it). */
  windowEnd?: string | undefined;
  /** Confirmation: only the pending subscribers this import created or found (all pending ones when absent). */
  importId?: string | undefined;
  reason?: string | undefined;
  counts: SendCounts;
  /** `counts.skipped` by reason. */
  skippedBy: SkipCounts;
  errors: Record<string, SendErrorSummary>;
  /** Bumped by every resume; batches of older generations are dropped. */
  generation: number;
  plan: PlanState;
  /** Batches of this generation whose outcome was counted. */
  batchesDone: number;
  /** This generation (a resume that asked for it) sends again to recipients left `uncertain` by an earlier one. */
  retryUncertain?: boolean | undefined;
  /** Attempts and failures when the send was last resumed: the error threshold counts what came after. */
  errorBaseline?: { attempts: number; failed: number } | undefined;
  startedAt?: string | undefined;
  completedAt?: string | undefined;
  /** Digest: ids of the articles that went out to at least one recipient. */
  sentArticles?: string[] | undefined;
  /** Digest: where its public web archive page is. */
  archivePath?: string | undefined;
}

/** The fields every new Send has (the article repository writes these for an instant alert). */
export type NewSend = Pick<
  Send,
  | 'id'
  | 'kind'
  | 'trigger'
  | 'createdAt'
  | 'deadline'
  | 'articleId'
  | 'frequency'
  | 'topics'
  | 'subject'
  | 'intro'
  | 'dryRun'
  | 'windowEnd'
  | 'importId'
  | 'reason'
> & { status: 'pending' | 'expired' };

/**
 * - `sending`: claimed right before the provider call (paced, the send's status checked): the call is in flight.
 * - `pending`: claimed before but the provider certainly did not accept it (throttled); may be claimed again.
 * - `submitted`: accepted by the provider, with its message id.
 * - `failed`: refused; a resume retries it.
 * - `uncertain`: found in `sending` after its process died: its provider call had started, so it may or may not
 *   have gone out. Not sent again, unless the publisher resumes with `retryUncertain`.
 * - `skipped`, `suppressed`: not mailed, with the reason.
 */
export type DeliveryState = 'sending' | 'pending' | 'submitted' | 'failed' | 'uncertain' | 'skipped' | 'suppressed';
export const FINAL_DELIVERY_STATES: readonly DeliveryState[] = ['submitted', 'failed', 'uncertain', 'skipped', 'suppressed'];

export interface Delivery {
  sendId: string;
  subscriberId: string;
  state: DeliveryState;
  /** Random token of the attempt that holds the claim: only it may move the record on. */
  claim: string;
  claimedAt: string;
  /** The generation and batch that own the record: only that batch counts it. */
  generation: number;
  batchId: string;
  messageId?: string | undefined;
  submittedAt?: string | undefined;
  /** Error code and message (failed, uncertain) or why it was skipped. */
  code?: string | undefined;
  detail?: string | undefined;
  /** The state the record was claimed again from (a resumed send retries failures). */
  retriedFrom?: DeliveryState | undefined;
  /**
   * Set while the record is `sending` when the provider reported on the message (a delivery, bounce,
   * complaint, reject or delay event): the call reached it. A process that died mid-call then leaves the
   * recipient `submitted` with this message id, not `uncertain`.
   */
  reportedMessageId?: string | undefined;
}

/**
 * What the provider reported about a send's messages, one count per recipient and kind (a recipient may
 * have several: delayed, then delivered). Not a delivery guarantee: SES reports what the receiving server said.
 */
export const REPORT_KINDS = ['delivered', 'hardBounced', 'softBounced', 'complained', 'rejected', 'delayed'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export type SendReports = Record<ReportKind, number>;
export const zeroReports = (): SendReports => ({ delivered: 0, hardBounced: 0, softBounced: 0, complained: 0, rejected: 0, delayed: 0 });

/**
 * An `uncertain` record whose call never reached the provider: SES publishes a Send event for every call it
 * accepts, and that event turns the record `submitted` (or marks it while still `sending`). One still
 * uncertain this long after its claim was never accepted, and is sent on a resume like a failure.
 */
export function notReached(x: Pick<Delivery, 'state' | 'claimedAt'>, now: Date, reportWindowMs: number): boolean {
  return x.state === 'uncertain' && now.getTime() - Date.parse(x.claimedAt) > reportWindowMs;
}

/**
 * What a record found in `sending` after its process died becomes: `submitted` when the provider has
 * reported on the message since (the call reached it), else `uncertain` with `code` and `detail`.
 */
export function inFlightOutcome(
  x: Pick<Delivery, 'reportedMessageId'>,
  code: string,
  detail: string,
  at: string,
): Partial<Delivery> & { state: 'submitted' | 'uncertain' } {
  if (x.reportedMessageId) return { state: 'submitted', messageId: x.reportedMessageId, submittedAt: at };
  return { state: 'uncertain', code, detail };
}

/** One queue message: a batch of recipients of one send. */
export interface BatchMessage {
  v: 1;
  sendId: string;
  generation: number;
  batchId: string;
  /** `[subscriberId, emailHash]` as the planner saw them. */
  recipients: [string, string][];
  /** Hand-ons in a row whose run was throttled throughout without one email accepted (absent: none). */
  stalls?: number | undefined;
}

/** SQS's longest message delay. */
export const MAX_QUEUE_DELAY_SECONDS = 900;

/** How long a handed-on batch waits before it is visible: none after progress, doubling per stall. */
export function handOnDelaySeconds(m: BatchMessage, stallDelaySeconds: number): number {
  const stalls = m.stalls ?? 0;
  return stalls === 0 ? 0 : Math.min(MAX_QUEUE_DELAY_SECONDS, stallDelaySeconds * 2 ** (stalls - 1));
}

export function parseBatchMessage(body: string): BatchMessage | undefined {
  try {
    const m = JSON.parse(body) as Partial<BatchMessage>;
    if (m.v !== 1 || typeof m.sendId !== 'string' || typeof m.batchId !== 'string' || typeof m.generation !== 'number' || !Array.isArray(m.recipients))
      return undefined;
    if (!m.recipients.every((r) => Array.isArray(r) && typeof r[0] === 'string' && typeof r[1] === 'string')) return undefined;
    if (m.stalls !== undefined && !(Number.isInteger(m.stalls) && m.stalls >= 0)) return undefined;
    return m as BatchMessage;
  } catch {
    return undefined;
  }
}

/** An article as a digest lists it, frozen when the send is planned. */
export interface DigestCandidate {
  id: string;
  title: string;
  summary: string;
  url: string;
  publishedAt: string;
  tags: string[];
}

/** What a send says, frozen when planning starts, so every batch (and a resume) renders the same thing. */
export type SendContent =
  | {
      kind: 'article';
      article: {
        id: string;
        title: string;
        url: string;
        contentHtml: string;
        summary: string;
        byline?: string | undefined;
        publishedAt?: string | undefined;
        tags: string[];
      };
    }
  | { kind: 'digest'; period: DigestFrequency; windowEnd: string; articles: DigestCandidate[] }
  | { kind: 'confirmation'; importId?: string | undefined };

/** A subscriber as the delivery engine reads it (the subscribers module's item shape). */
export interface Recipient {
  id: string;
  email: string;
  emailHash: string;
  name?: string | undefined;
  status: 'pending' | 'confirmed' | 'unsubscribed' | 'suppressed';
  frequency: Frequency;
  topics: string[];
  paused: boolean;
  confirmedAt?: string | undefined;
  lastDigestAt?: { daily?: string | undefined; weekly?: string | undefined } | undefined;
  /** The import that created the subscriber or found them pending (confirmation sends per import). */
  importId?: string | undefined;
}
