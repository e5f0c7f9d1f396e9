/**
 * Delivery: one batch of a send, recipient by recipient. For each: a consistent eligibility check, then a
 * paced instant from the account's shared rate, a fresh reading of the send's status (a cancel or pause
 * stops new calls at once), the conditional claim (the delivery record in `sending`) written right before
 * the provider call, the call, and the outcome, written with others at least once a second. So a record
 * is in `sending` only while its call is in flight: a process that dies leaves `uncertain` only recipients
 * whose call had started, and whoever finds a record already there never calls the provider for it again.
 *
 * When the invocation runs short of time (Lambda's remaining time under the reserve), no new call starts:
 * the recipients left are **handed on** as a new batch message, counted as one more batch of the plan in
 * the same write that counts this one. The queue message is acknowledged, so pacing never spends a
 * message's receive count; only real failures do.
 */
import { randomBytes } from 'node:crypto';
import { MailerRejectedError, MailerThrottledError, MailerTransientError, isMailerError, type SendQuota } from '../email/message.ts';
import { eligibility } from './audience.ts';
import { composeEmail, PreparedCache } from './content.ts';
import { MAX_CLAIM_WAVE, type WorkerDeps } from './deps.ts';
import { backoffMs, sleepUntil } from './pacing.ts';
import { expireSend, pauseSend, quotaPauseReason, recountIfStopped } from './settlement.ts';
import {
  DELIVERING,
  handOnDelaySeconds,
  inFlightOutcome,
  isSkipReason,
  notReached,
  type BatchMessage,
  type Delivery,
  type DeliveryState,
  type DigestCandidate,
  type Recipient,
  type Send,
  type SendContent,
} from './model.ts';
import type { DigestMark, TallyDelta } from './ports.ts';

export interface BatchContext {
  /** Milliseconds left in this invocation (Lambda's `getRemainingTimeInMillis`); unlimited when absent. */
  remainingMs?: (() => number) | undefined;
}

/** `done`: acknowledge the message. `retry`: a real failure left recipients to try again; redeliver it. */
export type BatchResult = 'done' | 'retry';

const prepared = new PreparedCache();
const contents = new Map<string, SendContent>();

async function contentOf(deps: WorkerDeps, sendId: string): Promise<SendContent | undefined> {
  let c = contents.get(sendId);
  if (!c) {
    c = await deps.sends.getContent(sendId);
    if (c) {
      contents.set(sendId, c);
      if (contents.size > 50) contents.delete(contents.keys().next().value!);
    }
  }
  return c;
}

/**
 * This process's readings of each send's status, shared by its batches: a reading is reused while it
 * started less than `statusCheckMs` ago, so a burst of calls costs one read.
 */
const statusReads = new Map<string, { at: number; send: Promise<Send | undefined> }>();
function readStatus(deps: Pick<WorkerDeps, 'sends'>, id: string, now: number, maxAgeMs: number): Promise<Send | undefined> {
  const seen = statusReads.get(id);
  if (seen && now - seen.at < maxAgeMs) return seen.send;
  const read = { at: now, send: deps.sends.get(id) };
  statusReads.delete(id);
  statusReads.set(id, read);
  read.send.catch(() => statusReads.delete(id));
  if (statusReads.size > 100) statusReads.delete(statusReads.keys().next().value!);
  return read.send;
}

/** This process's reading of the account's 24-hour quota (none when it could not be read), and what it sent since. */
let quotaReading: { at: number; quota?: SendQuota | undefined; sentSince: number } | undefined;
let quotaRead: Promise<void> | undefined;
async function quotaNow(deps: WorkerDeps, now: number): Promise<{ quota?: SendQuota | undefined; sentSince: number } | undefined> {
  if (!quotaReading || now - quotaReading.at >= deps.settings.quotaCheckMs) {
    quotaRead ??= deps.mailer
      .getSendQuota()
      .then((quota) => void (quotaReading = { at: now, quota, sentSince: 0 }))
      .catch((e: unknown) => {
        deps.log?.('could not read the sending quota; the provider refuses what is over it', e);
        quotaReading = { at: now, quota: undefined, sentSince: 0 };
      })
      .finally(() => (quotaRead = undefined));
    await quotaRead;
  }
  return quotaReading;
}

const newClaim = () => randomBytes(9).toString('base64url');

/** The batch id of the message that carries on `batchId`'s recipients: `3.0` -> `3.0+1` -> `3.0+2`. */
export function handOnId(batchId: string): string {
  const m = /^(.*)\+(\d+)$/.exec(batchId);
  return m ? `${m[1]}+${Number(m[2]) + 1}` : `${batchId}+1`;
}

/** What a record retried now was retried from: a `pending` one keeps what it had (a claim given back), any other its own state. */
const retriedFromOf = (x: Delivery): DeliveryState | undefined => (x.state === 'pending' ? x.retriedFrom : x.state);

type Found = Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>;

class BatchRun {
  private readonly delta: TallyDelta = { counts: {}, skips: {}, errors: {}, sentArticles: [] };
  private readonly sentArticles = new Set<string>();
  /** The send stopped (paused, cancelled, expired, resumed elsewhere): start no call. */
  stopped = false;
  /** Out of time: start no call; what is left is handed on. */
  late = false;
  /** Messages the provider accepted in this run. */
  accepted = 0;
  /** A real failure (or a record another worker holds) left recipients to try again: redeliver the message. */
  retry = false;
  /** Recipients not tried, to hand on. */
  readonly leftover: [string, string][] = [];
  private outcomes: Delivery[] = [];
  private marks: DigestMark[] = [];
  private firstUnwritten = 0;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: WorkerDeps,
    private readonly send: Send,
    private readonly content: SendContent,
    private readonly msg: BatchMessage,
    private readonly ctx: BatchContext,
  ) {}

  tally(): TallyDelta {
    this.delta.sentArticles = [...this.sentArticles];
    return this.delta;
  }

  private count(state: DeliveryState, n = 1, code?: string): void {
    if (state === 'sending' || state === 'pending') return;
    this.delta.counts[state] = (this.delta.counts[state] ?? 0) + n;
    if (state === 'skipped' && isSkipReason(code)) {
      const skips = (this.delta.skips ??= {});
      skips[code] = (skips[code] ?? 0) + n;
    }
  }

  /** A retried record leaves the count it was in. */
  private uncount(retriedFrom: DeliveryState | undefined): void {
    if (retriedFrom === 'failed' || retriedFrom === 'uncertain') this.count(retriedFrom, -1);
  }

  private error(code: string, message: string): void {
    const e = (this.delta.errors[code] ??= { count: 0, message });
    e.count++;
  }

  private owns(d: Delivery): boolean {
    return d.generation === this.send.generation && d.batchId === this.msg.batchId;
  }

  /** Counts a record this batch owns in a final state (found again on a redelivery of the same batch). */
  private countOwned(d: Delivery): void {
    if (!this.owns(d)) return;
    this.count(d.state, 1, d.code);
    this.uncount(d.retriedFrom);
    if ((d.state === 'failed' || d.state === 'uncertain') && d.code) this.error(d.code, d.detail ?? d.code);
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  private outOfTime(): boolean {
    if (!this.late && this.ctx.remainingMs !== undefined && this.ctx.remainingMs() < this.deps.settings.reserveMs) this.late = true;
    return this.late;
  }

  /** A fresh reading of the send: stops this batch when it is no longer delivering in this generation. */
  private async stillDelivering(): Promise<boolean> {
    if (this.stopped) return false;
    const now = this.deps.clock.now().getTime();
    let s = await readStatus(this.deps, this.send.id, now, this.deps.settings.statusCheckMs);
    // A reading from before this batch's generation began says nothing about it.
    if (s && s.generation < this.send.generation) {
      statusReads.delete(this.send.id);
      s = await readStatus(this.deps, this.send.id, now, this.deps.settings.statusCheckMs);
    }
    if (!s || s.generation !== this.send.generation || !DELIVERING.includes(s.status)) this.stopped = true;
    else if (this.now() > s.deadline) {
      this.stopped = true;
      await expireSend(this.deps, s);
    }
    return !this.stopped;
  }

  /** Room in the account's 24-hour quota for one more message; pauses the send when there is none. */
  private async quotaAllows(): Promise<boolean> {
    const reading = await quotaNow(this.deps, this.deps.clock.now().getTime());
    if (!reading?.quota) return true;
    const reason = quotaPauseReason(
      this.send,
      { ...reading.quota, sentLast24Hours: reading.quota.sentLast24Hours + reading.sentSince },
      1,
      this.deps.clock.now(),
    );
    if (!reason) return true;
    await this.pause(reason);
    return false;
  }

  private async pause(reason: string): Promise<void> {
    this.stopped = true;
    await pauseSend(this.deps, this.send, reason);
  }

  private record(subscriberId: string, state: DeliveryState, extra: Partial<Delivery> = {}): Delivery {
    return {
      sendId: this.send.id,
      subscriberId,
      state,
      claim: newClaim(),
      claimedAt: this.now(),
      generation: this.send.generation,
      batchId: this.msg.batchId,
      ...extra,
    };
  }

  private mine() {
    return { claimedAt: this.now(), generation: this.send.generation, batchId: this.msg.batchId };
  }

  /**
   * Works through the batch with as many lanes as this process has provider call slots. Records that
   * exist already (a redelivery, a resume) are read first, in one request per 100, so they cost no
   * sending instant.
   */
  async run(found: Found): Promise<void> {
    const seen = new Set<string>();
    const list = this.msg.recipients.filter(([id]) => !seen.has(id) && seen.add(id));
    const existing = await this.deps.sends.deliveries(
      this.send.id,
      list.map(([id]) => id),
    );
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < list.length; i = next++) {
        const r = list[i]!;
        if (this.stopped) return;
        if (this.outOfTime()) {
          this.leftover.push(r);
          continue;
        }
        await this.one(r, found.get(r[0]), existing.get(r[0]));
      }
    };
    const lanes = Math.max(1, Math.min(list.length, this.deps.providerSlots.capacity));
    // Every lane has ended (nothing of this attempt is in flight) before the batch answers, even on an error.
    const ended = await Promise.allSettled(Array.from({ length: lanes }, lane));
    await this.flush(true);
    const failed = ended.find((e): e is PromiseRejectedResult => e.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** One recipient, from its eligibility and the record found before (if any). */
  private async one(
    r: [string, string],
    f: { recipient?: Recipient | undefined; suppressed: boolean } | undefined,
    before: Delivery | undefined,
  ): Promise<void> {
    const [id] = r;
    const e = eligibility(this.send, this.content, f?.recipient, f?.suppressed ?? false);
    const notMailed = e.kind === 'send' ? undefined : e;
    let x = before;
    if (!x && notMailed) {
      // Not mailed: the record says why.
      x = await this.deps.sends.claimDelivery(this.record(id, notMailed.kind, { code: notMailed.code, detail: notMailed.reason }));
      if (!x) {
        this.count(notMailed.kind, 1, notMailed.code);
        return;
      }
    }
    if (x && !this.retryable(x)) {
      await this.settleExisting(x);
      return;
    }
    if (notMailed) {
      // A retryable record of someone no longer eligible: it records why, instead of being tried.
      const held = x!;
      const retriedFrom = retriedFromOf(held);
      const was = await this.deps.sends.updateDelivery(
        this.send.id,
        id,
        { from: [held.state], claim: held.claim },
        { ...this.mine(), claim: newClaim(), state: notMailed.kind, code: notMailed.code, detail: notMailed.reason, retriedFrom },
      );
      if (!was) this.retry = true;
      else {
        this.count(notMailed.kind, 1, notMailed.code);
        this.uncount(retriedFrom);
      }
      return;
    }
    await this.sendTo(r, f!.recipient!, e.kind === 'send' ? e.articles : undefined, x);
  }

  /**
   * A record this batch may send to: `pending` (claim given back), or, of an earlier generation, a failure,
   * an uncertain one that never reached the provider, or (when the publisher asked) any uncertain one.
   */
  private retryable(x: Delivery): boolean {
    if (x.state === 'pending') return true;
    if (x.generation >= this.send.generation) return false;
    return (
      x.state === 'failed' ||
      (x.state === 'uncertain' && (this.send.retryUncertain === true || notReached(x, this.deps.clock.now(), this.deps.settings.reportWindowMs)))
    );
  }

  /** A record that is not ours to send: count it if we own it, or deal with a call left in flight. */
  private async settleExisting(x: Delivery): Promise<void> {
    if (x.state !== 'sending') {
      this.countOwned(x);
      return;
    }
    const age = this.deps.clock.now().getTime() - new Date(x.claimedAt).getTime();
    if (x.generation < this.send.generation || age > this.deps.settings.inFlightTimeoutMs) {
      // Its process died mid-call: the message may have gone out (it did, if the provider reported on it). Do not send it again.
      const outcome = inFlightOutcome(
        x,
        'InFlightAtCrash',
        `the provider call was in flight (claimed ${x.claimedAt}) when its process stopped; it may or may not have been sent`,
        this.deps.clock.now().toISOString(),
      );
      const was = await this.deps.sends.updateDelivery(this.send.id, x.subscriberId, { from: ['sending'], claim: x.claim }, { ...this.mine(), ...outcome });
      if (was) {
        this.count(outcome.state);
        this.uncount(x.retriedFrom);
      } else this.retry = true;
    } else this.retry = true; // another worker's call is in flight right now
  }

  /**
   * Paces, checks the send and the quota, claims (right before the call) and calls. A throttled call gives
   * its claim back (`pending`) before waiting, so the record never says `sending` for a call not in flight.
   */
  private async sendTo(r: [string, string], recipient: Recipient, articles: DigestCandidate[] | undefined, found: Delivery | undefined): Promise<void> {
    const { deps } = this;
    const [id] = r;
    let email: ReturnType<typeof composeEmail>;
    try {
      email = composeEmail(deps, this.send, await prepared.get(deps.renderer, this.send, this.content, articles), recipient);
    } catch (e) {
      await this.renderFailed(id, found, `the email could not be built: ${(e as Error).message}`.slice(0, 500));
      return;
    }
    let held: Delivery | undefined = found;
    for (let attempt = 0; ; attempt++) {
      // The send's status and the quota are read just before the instant, so that only the claim's write
      // stands between the instant and the call (their arrival at the provider keeps to the pacing).
      const at = await deps.limiter.next(() => this.stopped || this.outOfTime());
      if (at === undefined) {
        if (!this.stopped) this.leftover.push(r);
        return;
      }
      await this.until(at - deps.settings.statusCheckMs);
      if (!(await this.stillDelivering())) return;
      if (this.outOfTime()) {
        this.leftover.push(r);
        return;
      }
      if (!(await this.quotaAllows())) return;
      await this.until(at);
      if (this.stopped) return;
      // A call slot first, then the claim and at once the call: a record says `sending` only while its call is under way.
      const attempted = await deps.providerSlots.run(async () => {
        const claimed = await this.claim(id, held);
        if (!claimed) return undefined;
        try {
          return { claimed, sent: await deps.mailer.send(email) };
        } catch (error) {
          return { claimed, error };
        }
      });
      if (!attempted) return;
      const { claimed } = attempted;
      let outcome: Delivery;
      try {
        if ('error' in attempted) throw attempted.error;
        const { messageId } = attempted.sent;
        if (quotaReading) quotaReading.sentSince++;
        this.accepted++;
        outcome = { ...claimed, state: 'submitted', messageId, submittedAt: this.now() };
      } catch (e) {
        const notSent = e instanceof MailerThrottledError || (e instanceof MailerTransientError && e.notSent);
        if (!notSent) {
          outcome = this.failure(claimed, e);
          if (e instanceof MailerRejectedError && e.affectsAllMessages) {
            await this.pause(`the provider refuses every message: ${e.code}: ${e.message}. Fix the account or configuration, then resume.`);
          }
        } else {
          // Certainly not sent: give the claim back before waiting.
          held = await this.giveBack(claimed);
          if (!held) return;
          if (e instanceof MailerThrottledError && e.reason === 'dailyQuota') {
            await this.pause(`the provider's daily sending quota is used up (${e.message}); resume when it has room again`);
            return;
          }
          const wait = backoffMs(attempt, deps.settings.retryBaseMs, deps.settings.retryCapMs, deps.random);
          if (e instanceof MailerThrottledError) deps.limiter.backOff(Math.min(wait, e.retryAfterMs));
          if (attempt >= deps.settings.maxRetries) {
            // Throttled again and again is pacing, not failure: hand it on. A transient error is a failure: redeliver.
            if (e instanceof MailerThrottledError) this.leftover.push(r);
            else this.retry = true;
            return;
          }
          await deps.sleep(wait);
          continue;
        }
      }
      await this.finish(outcome, held, recipient, articles);
      return;
    }
  }

  /** Records a failure to build the email (no provider call), with the same conditional writes as a claim. */
  private async renderFailed(id: string, found: Delivery | undefined, detail: string): Promise<void> {
    let x = found;
    if (!x) {
      x = await this.deps.sends.claimDelivery(this.record(id, 'failed', { code: 'RenderFailed', detail }));
      if (!x) {
        this.count('failed');
        this.error('RenderFailed', detail);
        return;
      }
      if (!this.retryable(x)) return this.settleExisting(x);
    }
    const retriedFrom = retriedFromOf(x);
    const was = await this.deps.sends.updateDelivery(
      this.send.id,
      id,
      { from: [x.state], claim: x.claim },
      { ...this.mine(), claim: newClaim(), state: 'failed', code: 'RenderFailed', detail, retriedFrom },
    );
    if (!was) {
      this.retry = true;
      return;
    }
    this.count('failed');
    this.uncount(retriedFrom);
    this.error('RenderFailed', detail);
  }

  /** Waits until the instant `at` (ms since the epoch) of the engine's clock. */
  private until(at: number): Promise<void> {
    return sleepUntil(at, () => this.deps.clock.now().getTime(), this.deps.sleep);
  }

  private failure(claimed: Delivery, e: unknown): Delivery {
    const detail = (m: string) => m.slice(0, 500);
    if (e instanceof MailerTransientError) return { ...claimed, state: 'uncertain', code: e.code, detail: detail(e.message) }; // timed out or cut mid-call: may have gone out
    if (e instanceof MailerRejectedError) return { ...claimed, state: 'failed', code: e.code, detail: detail(e.message) };
    return { ...claimed, state: 'failed', code: isMailerError(e) ? e.code : 'Unexpected', detail: detail(e instanceof Error ? e.message : String(e)) };
  }

  /** Writes the claim: a new record, or `pending`/a retried failure moved to `sending`. Undefined when someone else holds it. */
  private async claim(id: string, held: Delivery | undefined): Promise<Delivery | undefined> {
    if (!held) {
      const rec = this.record(id, 'sending');
      const x = await this.deps.sends.claimDelivery(rec);
      if (!x) return rec;
      if (!this.retryable(x)) {
        await this.settleExisting(x);
        return undefined;
      }
      held = x;
    }
    const retriedFrom = retriedFromOf(held);
    const rec: Delivery = { ...held, ...this.mine(), state: 'sending', claim: newClaim(), retriedFrom };
    const was = await this.deps.sends.updateDelivery(
      this.send.id,
      id,
      { from: [held.state], claim: held.claim },
      { claim: rec.claim, claimedAt: rec.claimedAt, generation: rec.generation, batchId: rec.batchId, state: 'sending', retriedFrom },
    );
    if (!was) {
      this.retry = true;
      return undefined;
    }
    return rec;
  }

  private async giveBack(claimed: Delivery): Promise<Delivery | undefined> {
    const was = await this.deps.sends.updateDelivery(this.send.id, claimed.subscriberId, { from: ['sending'], claim: claimed.claim }, { state: 'pending' });
    if (!was) {
      this.retry = true;
      return undefined;
    }
    return { ...claimed, state: 'pending' };
  }

  /** Keeps an outcome to write with others (at least every `outcomeFlushMs`, and every {@link MAX_CLAIM_WAVE}). */
  private async finish(outcome: Delivery, before: Delivery | undefined, recipient: Recipient, articles?: DigestCandidate[]): Promise<void> {
    if (this.outcomes.length === 0) this.firstUnwritten = this.deps.clock.now().getTime();
    this.outcomes.push(outcome);
    this.count(outcome.state);
    this.uncount(outcome.retriedFrom ?? (before?.state === 'failed' || before?.state === 'uncertain' ? before.state : undefined));
    if ((outcome.state === 'failed' || outcome.state === 'uncertain') && outcome.code) this.error(outcome.code, outcome.detail ?? outcome.code);
    if (outcome.state === 'submitted' && this.content.kind === 'digest') {
      this.marks.push({ subscriberId: outcome.subscriberId, previous: recipient.lastDigestAt });
      for (const a of articles ?? []) this.sentArticles.add(a.id);
    }
    await this.flush(false);
  }

  private async flush(all: boolean): Promise<void> {
    const due =
      this.outcomes.length >= MAX_CLAIM_WAVE ||
      (this.outcomes.length > 0 && this.deps.clock.now().getTime() - this.firstUnwritten >= this.deps.settings.outcomeFlushMs);
    if (!all && !due) return;
    const outcomes = this.outcomes;
    const marks = this.marks;
    this.outcomes = [];
    this.marks = [];
    const writes: Promise<void>[] = [this.flushing];
    if (outcomes.length) writes.push(this.deps.sends.recordDeliveries(outcomes));
    if (marks.length && this.content.kind === 'digest') writes.push(this.deps.audience.markDigestsSent(marks, this.content.period, this.content.windowEnd));
    this.flushing = Promise.all(writes).then(() => undefined);
    await this.flushing;
  }
}

function handOnBatch(deps: WorkerDeps, m: BatchMessage): Promise<void> {
  const delaySeconds = handOnDelaySeconds(m, deps.settings.stallDelaySeconds);
  return deps.queue.enqueue([m], delaySeconds > 0 ? { delaySeconds } : undefined);
}

/**
 * Delivers one batch of a send. Answers `retry` when a real failure left recipients to try again (the
 * message is then redelivered; those already handled are not sent again). Recipients left when time ran
 * short are handed on in a new message instead.
 */
export async function deliverBatch(deps: WorkerDeps, msg: BatchMessage, ctx: BatchContext = {}): Promise<BatchResult> {
  const send = await deps.sends.get(msg.sendId);
  // A batch of a stopped send or of an older generation is dropped: a resume plans everyone again.
  if (!send || send.generation !== msg.generation || !DELIVERING.includes(send.status)) return 'done';
  if (deps.clock.now().toISOString() > send.deadline) {
    await expireSend(deps, send);
    return 'done';
  }
  // Counted before (redelivered after its count): only its hand-on may still need queueing.
  const counted = await deps.sends.batchTally(send.id, send.generation, msg.batchId);
  if (counted) {
    if (counted.handOn) await handOnBatch(deps, counted.handOn);
    return 'done';
  }
  const content = await contentOf(deps, send.id);
  if (!content) throw new Error(`send ${send.id} has no frozen content`);
  const found = await deps.audience.recipients(msg.recipients);
  const run = new BatchRun(deps, send, content, msg, ctx);
  await run.run(found);
  if (run.retry) return 'retry';
  // Throttled to the end without a single message accepted is no progress. It is handed on after a delay
  // that doubles each time (pacing is not failure); after `maxStalls` such hand-ons in a row it is
  // redelivered and spends a receive, so an account that refuses everything ends in the dead-letter queue.
  const stalled = run.leftover.length > 0 && run.accepted === 0 && !run.late && !run.stopped;
  const stalls = stalled ? (msg.stalls ?? 0) + 1 : 0;
  if (stalled && stalls > deps.settings.maxStalls) return 'retry';
  const handOn: BatchMessage | undefined =
    run.leftover.length > 0 && !run.stopped
      ? { v: 1, sendId: send.id, generation: send.generation, batchId: handOnId(msg.batchId), recipients: run.leftover, ...(stalls > 0 ? { stalls } : {}) }
      : undefined;
  const outcome = await deps.sends.tally(send.id, send.generation, msg.batchId, run.tally(), deps.clock.now().toISOString(), handOn);
  if (outcome === 'tallied' && handOn) {
    await handOnBatch(deps, handOn);
    deps.log?.(
      stalled
        ? `send ${send.id}: batch ${msg.batchId} was throttled throughout; ${handOn.recipients.length} recipient(s) handed on as ${handOn.batchId} in ${handOnDelaySeconds(handOn, deps.settings.stallDelaySeconds)} s`
        : `send ${send.id}: batch ${msg.batchId} ran short of time; ${handOn.recipients.length} recipient(s) handed on as ${handOn.batchId}`,
    );
  }
  // The send stopped while this batch ran: its counts come from a recount of the ledger, now that these records are written.
  if (outcome === 'stale') await recountIfStopped(deps, send.id, send.generation);
  return 'done';
}
