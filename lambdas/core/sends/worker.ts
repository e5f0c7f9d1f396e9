/**
 * Delivering one batch. For each recipient: a consistent eligibility check, a conditional claim (the
 * delivery record in `sending`) BEFORE the provider call, the call (paced), and the record moved to
 * `submitted` with the provider's message id after it. Claims and outcomes are written a wave at a time
 * (one conditional write claims a wave; its outcomes and, for a digest, the recipients' digest dates are
 * written together after it). The claim is what makes a retry, a redelivered message or a restart
 * unable to send twice: whoever finds a record already there never calls the provider for it again, and
 * a record left in `sending` by a dead process becomes `uncertain`.
 *
 * A batch counts the records it owns (created or taken over by it) once, in one write to its send
 * when it ends (not one per recipient).
 */
import { randomBytes } from 'node:crypto';
import { MailerRejectedError, MailerThrottledError, MailerTransientError, isMailerError } from '../email/message.ts';
import { eligibility } from './audience.ts';
import { composeEmail, PreparedCache } from './content.ts';
import { MAX_CLAIM_WAVE as MAX_WAVE, type DeliveryDeps } from './deps.ts';
import { backoffMs } from './pacing.ts';
import { settle } from './planner.ts';
import {
  DELIVERING,
  type BatchMessage,
  type Delivery,
  type DeliveryState,
  type DigestCandidate,
  type Recipient,
  type Send,
  type SendContent,
} from './model.ts';
import type { TallyDelta } from './ports.ts';

export interface BatchContext {
  /** Milliseconds left in this invocation (Lambda's `getRemainingTimeInMillis`); unlimited when absent. */
  remainingMs?: (() => number) | undefined;
}

/** `done`: acknowledge the message. `retry`: some recipients must be tried again later; redeliver it. */
export type BatchResult = 'done' | 'retry';

const prepared = new PreparedCache();
const contents = new Map<string, SendContent>();
/** The latest read of each send's status, shared by the batches of this process. */
const statusReads = new Map<string, { at: number; send: Promise<Send | undefined> }>();

function readStatus(deps: Pick<DeliveryDeps, 'sends'>, id: string, now: number, known?: Send): { at: number; send: Promise<Send | undefined> } {
  const seen = { at: now, send: known ? Promise.resolve<Send | undefined>(known) : deps.sends.get(id) };
  statusReads.delete(id);
  statusReads.set(id, seen);
  seen.send.catch(() => statusReads.delete(id));
  if (statusReads.size > 100) statusReads.delete(statusReads.keys().next().value!);
  return seen;
}

async function contentOf(deps: DeliveryDeps, sendId: string): Promise<SendContent | undefined> {
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

/** Network failures where the request never reached the provider: safe to send again. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
function certainlyNotSent(e: MailerTransientError): boolean {
  if (NOT_SENT_CODES.has(e.code)) return true;
  // The provider answered with an error status: it did not take the message.
  const status = (e.cause as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

const newClaim = () => randomBytes(9).toString('base64url');

/** Expires a send whose deadline passed while sending. */
export async function expireSend(deps: Pick<DeliveryDeps, 'sends' | 'clock'>, send: Send): Promise<void> {
  const left = Math.max(0, send.counts.planned - (send.counts.submitted + send.counts.failed + send.counts.suppressed + send.counts.skipped + send.counts.uncertain));
  await deps.sends.setStatus(send.id, {
    from: [...DELIVERING, 'paused'],
    to: 'expired',
    at: deps.clock.now().toISOString(),
    reason: `its deadline ${send.deadline} passed before it finished; about ${left} recipient(s) were not sent, so no stale mail went out`,
  });
}

class BatchRun {
  private readonly delta: TallyDelta = { counts: {}, errors: {}, sentArticles: [] };
  private readonly sentArticles = new Set<string>();
  /** The send stopped (paused, cancelled, expired, resumed elsewhere): claim nobody else. */
  private stopped = false;
  /** Some recipients must be tried again: redeliver the message. */
  retry = false;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly send: Send,
    private readonly content: SendContent,
    private readonly msg: BatchMessage,
    private readonly ctx: BatchContext,
  ) {}

  tally(): TallyDelta {
    this.delta.sentArticles = [...this.sentArticles];
    return this.delta;
  }

  private count(state: DeliveryState, n = 1): void {
    if (state === 'sending' || state === 'pending') return;
    this.delta.counts[state] = (this.delta.counts[state] ?? 0) + n;
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
    this.count(d.state);
    if (d.retriedFrom === 'failed') this.count('failed', -1);
    if (d.state === 'failed' && d.code) this.error(d.code, d.detail ?? d.code);
  }

  /** Re-reads the send now and then (one read per send per interval for the whole process), so a cancel or pause stops the batch within a second or so. */
  private async checkSend(): Promise<void> {
    const now = this.deps.clock.now().getTime();
    let seen = statusReads.get(this.send.id);
    if (!seen || now - seen.at >= this.deps.settings.statusCheckMs) seen = readStatus(this.deps, this.send.id, now);
    let s = await seen.send;
    // A read from before this batch's generation began says nothing about it.
    if (s && s.generation < this.send.generation) s = await readStatus(this.deps, this.send.id, now).send;
    if (!s || s.generation !== this.send.generation || !DELIVERING.includes(s.status)) this.stopped = true;
    else if (this.deps.clock.now().toISOString() > s.deadline) {
      this.stopped = true;
      await expireSend(this.deps, s);
    }
  }

  private outOfTime(): boolean {
    return this.ctx.remainingMs !== undefined && this.ctx.remainingMs() < this.deps.settings.reserveMs;
  }

  private record(subscriberId: string, state: DeliveryState, extra: Partial<Delivery> = {}): Delivery {
    return {
      sendId: this.send.id,
      subscriberId,
      state,
      claim: newClaim(),
      claimedAt: this.deps.clock.now().toISOString(),
      generation: this.send.generation,
      batchId: this.msg.batchId,
      ...extra,
    };
  }

  /**
   * Works through the batch in waves: claim a wave's recipients in one conditional write, call the
   * provider for each (paced), then record the wave's outcomes in one write. A wave is small enough
   * (about a second of this process's sending) that a crash leaves few claims without an outcome.
   */
  async run(found: Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>): Promise<void> {
    const ids = this.msg.recipients.map(([id]) => id);
    const rate = this.deps.limiter.rate;
    const byRate = Number.isFinite(rate) ? Math.floor((rate * this.deps.settings.claimAheadMs) / 1000) : MAX_WAVE;
    const size = Math.max(1, Math.min(MAX_WAVE, byRate, Math.floor(this.deps.claims.capacity / 2)));
    for (let i = 0; i < ids.length; i += size) {
      const wave = ids.slice(i, i + size);
      await this.deps.claims.acquire(wave.length);
      try {
        await this.checkSend();
        if (this.stopped) return;
        if (this.outOfTime()) {
          this.retry = true;
          return;
        }
        await this.wave(wave, found);
      } finally {
        this.deps.claims.release(wave.length);
      }
    }
  }

  private async wave(ids: string[], found: Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>): Promise<void> {
    const { deps } = this;
    const planned = ids.map((id) => {
      const f = found.get(id);
      const e = eligibility(this.send, this.content, f?.recipient, f?.suppressed ?? false);
      const record = e.kind === 'send' ? this.record(id, 'sending') : this.record(id, e.kind, { detail: e.reason });
      return { id, e, record, recipient: f?.recipient };
    });
    const existing = await deps.sends.claimDeliveries(planned.map((p) => p.record));
    const sendable: { record: Delivery; recipient: Recipient; articles: DigestCandidate[] | undefined }[] = [];
    for (const p of planned) {
      const x = existing.get(p.id);
      if (!x) {
        if (p.e.kind === 'send') sendable.push({ record: p.record, recipient: p.recipient!, articles: p.e.articles });
        else this.count(p.e.kind);
        continue;
      }
      const taken = await this.existing(x, p.e.kind === 'send' ? undefined : { state: p.e.kind, reason: p.e.reason });
      if (taken && p.e.kind === 'send') sendable.push({ record: { ...p.record, claim: taken.claim, retriedFrom: taken.retriedFrom }, recipient: p.recipient!, articles: p.e.articles });
    }
    if (sendable.length === 0) return;
    const outcomes = await Promise.all(sendable.map((w) => this.deliver(w.record, w.recipient, w.articles)));
    const submitted = outcomes.filter((o) => o.state === 'submitted');
    const writes: Promise<void>[] = [deps.sends.recordDeliveries(outcomes)];
    if (this.content.kind === 'digest' && submitted.length > 0) {
      const byId = new Map(sendable.map((w) => [w.record.subscriberId, w]));
      writes.push(
        deps.audience.markDigestsSent(
          submitted.map((o) => ({ subscriberId: o.subscriberId, previous: byId.get(o.subscriberId)?.recipient.lastDigestAt })),
          this.content.period,
          this.content.windowEnd,
        ),
      );
      for (const o of submitted) for (const a of byId.get(o.subscriberId)?.articles ?? []) this.sentArticles.add(a.id);
    }
    await Promise.all(writes);
    for (const o of outcomes) {
      this.count(o.state);
      if (o.retriedFrom === 'failed' && o.state !== 'pending') this.count('failed', -1);
      if ((o.state === 'failed' || o.state === 'uncertain') && o.code) this.error(o.code, o.detail ?? o.code);
    }
  }

  /**
   * A record exists already. Answers the new claim when this batch may now send to the recipient
   * (a `pending` record, or a failure of an earlier generation being retried); otherwise settles it.
   */
  private async existing(x: Delivery, notSending: { state: 'skipped' | 'suppressed'; reason: string } | undefined): Promise<{ claim: string; retriedFrom: DeliveryState | undefined } | undefined> {
    const { sends } = this.deps;
    const mine = { claimedAt: this.deps.clock.now().toISOString(), generation: this.send.generation, batchId: this.msg.batchId };
    if (x.state === 'sending') {
      const age = this.deps.clock.now().getTime() - new Date(x.claimedAt).getTime();
      if (x.generation < this.send.generation || age > this.deps.settings.inFlightTimeoutMs) {
        // Its process died mid-call: the message may have gone out. Report it; never send it again.
        const was = await sends.updateDelivery(this.send.id, x.subscriberId, { from: ['sending'], claim: x.claim }, {
          ...mine,
          state: 'uncertain',
          code: 'InFlightAtCrash',
          detail: `the provider call was in flight (claimed ${x.claimedAt}) when its process stopped; it may or may not have been sent`,
        });
        if (was) {
          this.count('uncertain');
          if (x.retriedFrom === 'failed') this.count('failed', -1);
        } else this.retry = true;
      } else this.retry = true; // another worker holds it right now
      return undefined;
    }
    const retryable = x.state === 'pending' || (x.state === 'failed' && x.generation < this.send.generation);
    if (!retryable) {
      this.countOwned(x);
      return undefined;
    }
    const claim = newClaim();
    const retriedFrom = x.state === 'failed' ? 'failed' : x.retriedFrom;
    const set = notSending
      ? { ...mine, claim, state: notSending.state, detail: notSending.reason, retriedFrom }
      : { ...mine, claim, state: 'sending' as const, retriedFrom };
    const was = await sends.updateDelivery(this.send.id, x.subscriberId, { from: [x.state], claim: x.claim }, set);
    if (!was) {
      this.retry = true;
      return undefined;
    }
    if (notSending) {
      this.count(notSending.state);
      if (retriedFrom === 'failed') this.count('failed', -1);
      return undefined;
    }
    return { claim, retriedFrom };
  }

  private async pause(reason: string): Promise<void> {
    this.stopped = true;
    await this.deps.sends.setStatus(this.send.id, { from: DELIVERING, to: 'paused', at: this.deps.clock.now().toISOString(), reason, generation: this.send.generation });
  }

  /** Calls the provider for one claimed recipient and answers the record's outcome (written with the wave's). */
  private async deliver(claimed: Delivery, r: Recipient, articles: DigestCandidate[] | undefined): Promise<Delivery> {
    const { deps } = this;
    const outcome = (state: DeliveryState, extra: Partial<Delivery> = {}): Delivery => ({ ...claimed, state, ...extra });
    const failed = (state: 'failed' | 'uncertain', code: string, message: string) => outcome(state, { code, detail: message.slice(0, 500) });
    let email;
    try {
      email = composeEmail(deps, this.send, await prepared.get(deps.renderer, this.send, this.content, articles), r);
    } catch (e) {
      return failed('failed', 'RenderFailed', `the email could not be built: ${(e as Error).message}`);
    }
    for (let attempt = 0; ; attempt++) {
      // Not called: the claim is given back (`pending`), to be taken again by a retry or a resume.
      if (this.stopped) return outcome('pending');
      if (this.outOfTime()) {
        this.retry = true;
        return outcome('pending');
      }
      try {
        await deps.limiter.acquire();
        const { messageId } = await deps.providerSlots.run(() => deps.mailer.send(email));
        return outcome('submitted', { messageId, submittedAt: deps.clock.now().toISOString() });
      } catch (e) {
        if (e instanceof MailerThrottledError) {
          if (e.reason === 'dailyQuota') {
            await this.pause(`the provider's daily sending quota is used up (${e.message}); resume when it has room again`);
            return outcome('pending');
          }
          // Throttling is not success: the same message is tried again, and this process slows down for a moment.
          const wait = backoffMs(attempt, deps.settings.retryBaseMs, deps.settings.retryCapMs, deps.random);
          deps.limiter.backOff(Math.min(wait, e.retryAfterMs));
          if (attempt >= deps.settings.maxRetries) {
            this.retry = true;
            return outcome('pending');
          }
          await deps.sleep(wait);
          continue;
        }
        if (e instanceof MailerTransientError) {
          if (certainlyNotSent(e)) {
            if (attempt >= deps.settings.maxRetries) {
              this.retry = true;
              return outcome('pending');
            }
            await deps.sleep(backoffMs(attempt, deps.settings.retryBaseMs, deps.settings.retryCapMs, deps.random));
            continue;
          }
          // Timeout or a connection cut mid-call: the provider may have taken it.
          return failed('uncertain', e.code, e.message);
        }
        if (e instanceof MailerRejectedError) {
          if (e.affectsAllMessages) await this.pause(`the provider refuses every message: ${e.code}: ${e.message}. Fix the account or configuration, then resume.`);
          return failed('failed', e.code, e.message);
        }
        return failed('failed', isMailerError(e) ? e.code : 'Unexpected', e instanceof Error ? e.message : String(e));
      }
    }
  }
}

/**
 * Delivers one batch of a send. Returns `retry` when some recipients must be tried again later (the
 * message is then redelivered; the recipients already handled are not sent again).
 */
export async function deliverBatch(deps: DeliveryDeps, msg: BatchMessage, ctx: BatchContext = {}): Promise<BatchResult> {
  const send = await deps.sends.get(msg.sendId);
  if (send) readStatus(deps, send.id, deps.clock.now().getTime(), send);
  // A batch of a stopped send or of an older generation is dropped: a resume plans everyone again.
  if (!send || send.generation !== msg.generation || !DELIVERING.includes(send.status)) return 'done';
  if (deps.clock.now().toISOString() > send.deadline) {
    await expireSend(deps, send);
    return 'done';
  }
  const content = await contentOf(deps, send.id);
  if (!content) throw new Error(`send ${send.id} has no frozen content`);
  const found = await deps.audience.recipients(msg.recipients);
  const run = new BatchRun(deps, send, content, msg, ctx);
  // Every wave has ended (nothing of this attempt is in flight) before the batch answers.
  await run.run(found);
  if (run.retry) return 'retry';
  const counted = await deps.sends.tally(send.id, send.generation, msg.batchId, run.tally(), deps.clock.now().toISOString());
  if (counted === 'stale') {
    // The send stopped (cancelled, paused, expired) while this batch ran: its counts come from a recount
    // of the ledger, taken now that this batch's records are written.
    const now = await deps.sends.get(send.id);
    if (now && now.generation === send.generation && !DELIVERING.includes(now.status)) await settle(deps, now, 'recount');
  }
  return 'done';
}
