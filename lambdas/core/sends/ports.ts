import type { IdempotencyClaim, IdempotencyRecord } from '../idempotency.ts';
import type { Frequency } from '../subscribers/schema.ts';
import type {
  BatchMessage,
  CountName,
  Delivery,
  DeliveryState,
  NewSend,
  Recipient,
  ReportKind,
  Send,
  SendContent,
  SendCounts,
  SendReports,
  SendStatus,
  SkipCounts,
} from './model.ts';

export interface SendPage {
  items: Send[];
  next: string | null;
}

/** What one batch adds to its send's counts (`failed` may be negative: a resumed send retried failures). */
export interface TallyDelta {
  counts: Partial<Record<Exclude<CountName, 'planned'>, number>>;
  /** Skipped recipients by reason. */
  skips?: Partial<SkipCounts> | undefined;
  /** Error code -> how many, and one message. */
  errors: Record<string, { count: number; message: string }>;
  /** Digest: ids of articles that went out. */
  sentArticles: string[];
}

/** One step of planning: a page of the audience was queued. */
export interface PlanStep {
  generation: number;
  /** The cursor the page started from (the checkpoint moves only from there). */
  from: string | undefined;
  /** Where the next page starts; undefined when the audience is exhausted. */
  next: string | undefined;
  planned: number;
  skipped: number;
  /** `skipped` by reason. */
  skippedBy?: Partial<SkipCounts> | undefined;
  batches: number;
}

/** What a settlement writes beside the counts (see {@link SendRepository.settle}). */
export interface SettleOptions {
  /** Records with a final outcome that this recount saw: an overlapping recount that saw fewer does not overwrite it. */
  finalRecords: number;
  errors: Record<string, { count: number; message: string }>;
  skippedBy: SkipCounts;
  /** Complete the send too, if it is still this generation's and every batch is counted. */
  complete?: { generation: number } | undefined;
}

/**
 * Sends and their delivery ledger. Every state change is a conditional write, so two processes acting on
 * the same send (a retried stream record, a redelivered batch, a resume) can never both win.
 */
export interface SendRepository {
  /** @throws SendExists when the id is taken; IdempotencyConflict when `idempotency` exists. */
  create(send: NewSend, idempotency?: IdempotencyClaim): Promise<void>;
  get(id: string): Promise<Send | undefined>;
  /** Newest first. */
  list(query: { limit: number; cursor?: string | undefined }): Promise<SendPage>;
  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined>;

  /** `pending` -> `planning`, setting up counts, generation 1 and the plan. False when it was not pending. */
  beginPlanning(id: string, at: string, perBatch: number): Promise<boolean>;
  /**
   * Moves the plan checkpoint `from` -> `next` and adds the page's counts, once: false when another
   * planner moved it first, or the generation changed. When `next` is undefined, planning is done and the
   * send becomes `sending`.
   */
  checkpointPlan(id: string, step: PlanStep, at: string): Promise<boolean>;
  /** A conditional status change; false when the send was not in one of `from` (or not in `generation`). */
  setStatus(
    id: string,
    change: { from: readonly SendStatus[]; to: SendStatus; at: string; reason?: string | undefined; generation?: number | undefined },
  ): Promise<boolean>;
  /**
   * Starts a new generation from one of `from`: the plan starts over (delivery records make that cheap and
   * safe), batches of older generations are dropped. Returns the send as it is now, or undefined.
   */
  resume(id: string, from: readonly SendStatus[], at: string, options?: { retryUncertain?: boolean | undefined }): Promise<Send | undefined>;
  /**
   * Adds one batch's outcome to its send, exactly once per (generation, batch): `duplicate` when that
   * batch was counted before, `stale` when the send moved on to another generation or stopped (a stopped
   * send is recounted from the ledger instead).
   */
  tally(id: string, generation: number, batchId: string, delta: TallyDelta, at: string, handOn?: BatchMessage): Promise<'tallied' | 'duplicate' | 'stale'>;
  /**
   * The tally marker of a batch: present once the batch was counted, with the message it handed the rest
   * of its recipients on to (`handOn`, counted as one more batch of the plan in the same write).
   */
  batchTally(id: string, generation: number, batchId: string): Promise<{ handOn?: BatchMessage | undefined } | undefined>;
  /**
   * Sets totals (and the error summary) recounted from the ledger, unless a recount that saw more final records was written
   * already (recounts may overlap; records only ever move forward). With `complete`, also
   * `sending` -> `completed` (conditional on the generation and on every batch being counted).
   */
  settle(id: string, counts: SendCounts, at: string, options: SettleOptions): Promise<boolean>;
  setArchivePath(id: string, path: string): Promise<void>;

  /** The frozen content; the first write wins and is returned. */
  putContent(id: string, content: SendContent): Promise<SendContent>;
  getContent(id: string): Promise<SendContent | undefined>;

  /**
   * Creates each record unless one exists, in one conditional write (a wave of at most `MAX_CLAIM_WAVE`). Answers the
   * records that existed already, by subscriber id; every other record is now claimed.
   */
  claimDeliveries(records: Delivery[]): Promise<Map<string, Delivery>>;
  /** Creates the record unless one exists (one conditional write); answers the existing record, or undefined when this one was written. */
  claimDelivery(record: Delivery): Promise<Delivery | undefined>;
  /** The delivery records of these subscribers that exist (consistent reads), by subscriber id. */
  deliveries(sendId: string, subscriberIds: readonly string[]): Promise<Map<string, Delivery>>;
  /** Writes records this process holds the claims of, as they are now (outcomes of a wave). */
  recordDeliveries(records: Delivery[]): Promise<void>;
  /**
   * Changes a delivery record when it is still in one of `from` (and held by `claim`, when given).
   * Answers the state it was in before, or undefined when the condition failed.
   */
  updateDelivery(
    sendId: string,
    subscriberId: string,
    expect: { from: readonly DeliveryState[]; claim?: string | undefined },
    set: Partial<Omit<Delivery, 'sendId' | 'subscriberId'>>,
  ): Promise<DeliveryState | undefined>;
  /** Every delivery record of a send, page by page (state, claim, error and whether the provider reported on it). */
  ledger(sendId: string): AsyncIterable<Pick<Delivery, 'subscriberId' | 'state' | 'claim' | 'code' | 'detail' | 'reportedMessageId'>[]>;

  /**
   * Records what the provider reported about one recipient's message, once per kind: the recipient's
   * report marker and the send's report count move together (a `sent` report has neither: it only reconciles). With `reconcile`, the delivery record moves
   * in the same write: from `uncertain` to `submitted` (and the send's counts with it), or, still
   * `sending`, gains `reportedMessageId`. `duplicate`: this kind was recorded before. `moved`: the
   * delivery record is no longer in `reconcile.from` (read it again).
   */
  report(r: ProviderReport, reconcile?: Reconcile): Promise<'recorded' | 'duplicate' | 'moved'>;
  /** What the provider reported, summed per send (zeros for a send with no report yet). */
  reports(sendIds: readonly string[]): Promise<Map<string, SendReports>>;

  putArchiveEntry(entry: ArchiveEntry): Promise<void>;
  /** Newest first. */
  listArchive(limit: number): Promise<ArchiveEntry[]>;
}

/** One report of the provider about one recipient's message of a send. */
export interface ProviderReport {
  sendId: string;
  subscriberId: string;
  /** `sent`: SES accepted the call (its Send event). It only settles the delivery record; nothing counts it. */
  kind: ReportKind | 'sent';
  at: string;
  messageId: string;
}

/** How a report moves the recipient's delivery record: the provider's report proves its call reached it. */
export type Reconcile = { from: 'uncertain'; claim: string; code?: string | undefined } | { from: 'sending'; claim: string };

/** A digest that went out, as its web archive lists it. */
export interface ArchiveEntry {
  sendId: string;
  frequency: 'daily' | 'weekly';
  /** When it went out (ISO). */
  sentAt: string;
  path: string;
  title: string;
  intro?: string | undefined;
  articles: { title: string; url: string; summary: string; publishedAt: string }[];
}

export interface AudiencePage {
  members: Recipient[];
  next: string | undefined;
}
/** The sending audience (confirmed, not paused subscribers by frequency) and the consistent reads before sending. */
export interface AudienceSource {
  /** One page of a frequency's audience, from an eventually consistent index. */
  page(frequency: Frequency, cursor: string | undefined, limit: number): Promise<AudiencePage>;
  /** One page of the pending subscribers (those of one import when `importId` is given), for confirmation sends. */
  pending(importId: string | undefined, cursor: string | undefined, limit: number): Promise<AudiencePage>;
  /**
   * Consistent reads of the subscribers and of their addresses' suppression records, right before a batch
   * is sent. `emailHash` is the planner's; a subscriber whose address changed since is checked again.
   */
  recipients(list: readonly [subscriberId: string, emailHash: string][]): Promise<Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>>;
  /** Moves `lastDigestAt[frequency]` forward to `at` (never back) for subscribers who got the digest. */
  markDigestsSent(list: DigestMark[], frequency: 'daily' | 'weekly', at: string): Promise<void>;
}

/** A subscriber who got a digest, with their digest dates as read right before sending. */
export interface DigestMark {
  subscriberId: string;
  previous?: Recipient['lastDigestAt'];
}

/** Where batches go (SQS in AWS, the in-process queue locally). */
export interface SendQueue {
  /** `delaySeconds` (at most 900): the messages stay invisible that long, as SQS's DelaySeconds. */
  enqueue(messages: BatchMessage[], options?: { delaySeconds?: number | undefined }): Promise<void>;
}

/** The per-recipient links of an email (signed unsubscribe and preference links). */
export type RecipientLinks = (subscriberId: string) => { unsubscribeUrl: string; preferencesUrl: string; unsubscribeMailto?: string | undefined };

export class SendExists extends Error {
  constructor(readonly id: string) {
    super(`send ${id} exists`);
    this.name = 'SendExists';
  }
}
