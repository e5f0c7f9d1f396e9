/**
 * Delivering one batch. For each recipient: a consistent eligibility check, a conditional claim (the
 * delivery record in `sending`) BEFORE the provider call, the call (paced), and the record moved to
 * `submitted` with the provider's message id after it. The claim is what makes a retry, a redelivered
 * message or a restart unable to send twice: whoever finds a record already there never calls the
 * provider for it again, and a record left in `sending` by a dead process becomes `uncertain`.
 *
 * A batch counts the records it owns (created or taken over by it) once, in one write to its send
 * when it ends (not one per recipient).
 */
import { randomBytes } from 'node:crypto';
import { MailerRejectedError, MailerThrottledError, MailerTransientError, isMailerError } from '../email/message.ts';
import { eligibility } from './audience.ts';
import { composeEmail, PreparedCache } from './content.ts';
import type { DeliveryDeps } from './deps.ts';
import { backoffMs } from './pacing.ts';
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
  private lastCheck: number;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly send: Send,
    private readonly content: SendContent,
    private readonly msg: BatchMessage,
    private readonly ctx: BatchContext,
  ) {
    this.lastCheck = deps.clock.now().getTime();
  }

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

  /** Re-reads the send now and then, so a cancel or pause stops the batch within seconds. */
  private async checkSend(): Promise<void> {
    const now = this.deps.clock.now().getTime();
    if (now - this.lastCheck < this.deps.settings.statusCheckMs) return this.checking;
    this.lastCheck = now;
    this.checking = (async () => {
      const s = await this.deps.sends.get(this.send.id);
      if (!s || s.generation !== this.send.generation || !DELIVERING.includes(s.status)) this.stopped = true;
      else if (this.deps.clock.now().toISOString() > s.deadline) {
        this.stopped = true;
        await expireSend(this.deps, s);
      }
    })();
    return this.checking;
  }

  private outOfTime(): boolean {
    return this.ctx.remainingMs !== undefined && this.ctx.remainingMs() < this.deps.settings.reserveMs;
  }

  private base(state: DeliveryState): Delivery {
    return {
      sendId: this.send.id,
      subscriberId: '',
      state,
      claim: newClaim(),
      claimedAt: this.deps.clock.now().toISOString(),
      generation: this.send.generation,
      batchId: this.msg.batchId,
    };
  }

  async one(subscriberId: string, found: { recipient?: Recipient | undefined; suppressed: boolean } | undefined): Promise<void> {
    await this.checkSend();
    if (this.stopped) return;
    if (this.outOfTime()) {
      this.retry = true;
      return;
    }
    const e = eligibility(this.send, this.content, found?.recipient, found?.suppressed ?? false);
    if (e.kind !== 'send') {
      const d = { ...this.base(e.kind), subscriberId, detail: e.reason };
      const res = await this.deps.sends.claimDelivery(d);
      if (res.claimed) this.count(e.kind);
      else await this.existing(res.existing, { state: e.kind, reason: e.reason });
      return;
    }
    const d = { ...this.base('sending'), subscriberId };
    const res = await this.deps.sends.claimDelivery(d);
    let claim = d.claim;
    let retriedFrom: DeliveryState | undefined;
    if (!res.claimed) {
      const taken = await this.existing(res.existing, undefined);
      if (!taken) return;
      claim = taken.claim;
      retriedFrom = taken.retriedFrom;
    }
    await this.deliver(found!.recipient!, e.articles, claim, retriedFrom);
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

  private async release(subscriberId: string, claim: string): Promise<void> {
    await this.deps.sends.updateDelivery(this.send.id, subscriberId, { from: ['sending'], claim }, { state: 'pending' });
  }

  private async fail(subscriberId: string, claim: string, code: string, message: string, retriedFrom: DeliveryState | undefined, state: 'failed' | 'uncertain' = 'failed'): Promise<void> {
    await this.deps.sends.updateDelivery(this.send.id, subscriberId, { from: ['sending'], claim }, { state, code, detail: message.slice(0, 500) });
    this.count(state);
    if (retriedFrom === 'failed') this.count('failed', -1);
    this.error(code, message.slice(0, 300));
  }

  private async pause(reason: string): Promise<void> {
    this.stopped = true;
    await this.deps.sends.setStatus(this.send.id, { from: DELIVERING, to: 'paused', at: this.deps.clock.now().toISOString(), reason, generation: this.send.generation });
  }

  private async deliver(r: Recipient, articles: DigestCandidate[] | undefined, claim: string, retriedFrom: DeliveryState | undefined): Promise<void> {
    const { deps } = this;
    let email;
    try {
      const p = await prepared.get(deps.renderer, this.send, this.content, articles);
      email = composeEmail(deps, this.send, p, r);
    } catch (e) {
      await this.fail(r.id, claim, 'RenderFailed', `the email could not be built: ${(e as Error).message}`, retriedFrom);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      if (this.stopped || this.outOfTime()) {
        await this.release(r.id, claim);
        if (!this.stopped) this.retry = true;
        return;
      }
      let messageId: string;
      try {
        await deps.limiter.acquire();
        messageId = (await deps.providerSlots.run(() => deps.mailer.send(email))).messageId;
      } catch (e) {
        if (e instanceof MailerThrottledError) {
          if (e.reason === 'dailyQuota') {
            await this.release(r.id, claim);
            await this.pause(`the provider's daily sending quota is used up (${e.message}); resume when it has room again`);
            return;
          }
          // Throttling is not success: the same message is tried again, slower.
          const wait = backoffMs(attempt, Math.max(deps.settings.retryBaseMs, e.retryAfterMs / 2), deps.settings.retryCapMs, deps.random);
          deps.limiter.backOff(Math.min(wait, e.retryAfterMs));
          if (attempt >= deps.settings.maxRetries) {
            await this.release(r.id, claim);
            this.retry = true;
            return;
          }
          await deps.sleep(wait);
          continue;
        }
        if (e instanceof MailerTransientError) {
          if (certainlyNotSent(e) && attempt < deps.settings.maxRetries) {
            await deps.sleep(backoffMs(attempt, deps.settings.retryBaseMs, deps.settings.retryCapMs, deps.random));
            continue;
          }
          if (certainlyNotSent(e)) {
            await this.release(r.id, claim);
            this.retry = true;
            return;
          }
          // Timeout or a connection cut mid-call: the provider may have taken it.
          await this.fail(r.id, claim, e.code, e.message, retriedFrom, 'uncertain');
          return;
        }
        if (e instanceof MailerRejectedError) {
          await this.fail(r.id, claim, e.code, e.message, retriedFrom);
          if (e.affectsAllMessages) await this.pause(`the provider refuses every message: ${e.code}: ${e.message}. Fix the account or configuration, then resume.`);
          return;
        }
        const message = e instanceof Error ? e.message : String(e);
        await this.fail(r.id, claim, isMailerError(e) ? e.code : 'Unexpected', message, retriedFrom);
        return;
      }
      await this.submitted(r, claim, messageId, articles, retriedFrom);
      return;
    }
  }

  private async submitted(r: Recipient, claim: string, messageId: string, articles: DigestCandidate[] | undefined, retriedFrom: DeliveryState | undefined): Promise<void> {
    const { deps } = this;
    const at = deps.clock.now().toISOString();
    const digest = this.content.kind === 'digest' ? this.content : undefined;
    const [was] = await Promise.all([
      deps.sends.updateDelivery(this.send.id, r.id, { from: ['sending'], claim }, { state: 'submitted', messageId, submittedAt: at }),
      digest ? deps.audience.markDigestSent(r.id, digest.period, digest.windowEnd) : undefined,
    ]);
    for (const a of articles ?? []) this.sentArticles.add(a.id);
    if (was) {
      this.count('submitted');
      if (retriedFrom === 'failed') this.count('failed', -1);
      return;
    }
    // Another process declared it uncertain while the call was in flight (and counted it so): set the record right.
    const late = await deps.sends.updateDelivery(this.send.id, r.id, { from: ['uncertain'] }, { state: 'submitted', messageId, submittedAt: at });
    if (late) await deps.sends.adjust(this.send.id, { submitted: 1, uncertain: -1 });
  }
}

/**
 * Delivers one batch of a send. Returns `retry` when some recipients must be tried again later (the
 * message is then redelivered; the recipients already handled are not sent again).
 */
export async function deliverBatch(deps: DeliveryDeps, msg: BatchMessage, ctx: BatchContext = {}): Promise<BatchResult> {
  const send = await deps.sends.get(msg.sendId);
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
  const results = await Promise.allSettled(msg.recipients.map(([id]) => deps.recipientSlots.run(() => run.one(id, found.get(id)))));
  const broken = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // Every recipient's work has ended (nothing of this attempt is in flight) before the batch answers.
  if (broken) throw broken.reason;
  if (run.retry) return 'retry';
  await deps.sends.tally(send.id, send.generation, msg.batchId, run.tally(), deps.clock.now().toISOString());
  return 'done';
}
