/**
 * Settlement: the only place a send's status ends (completed, expired, cancelled) or pauses. Planning,
 * delivery, the dead-letter handler and the publisher's API ask here; nothing else writes those statuses.
 *
 * A send completes when every batch of its generation is counted: the counts are then recounted from the
 * delivery ledger (so they are exact whatever happened on the way). It pauses past the error threshold, on
 * an account-wide refusal, or when the account's 24-hour quota has no room; it expires when its deadline
 * passes before it finished.
 */
import type { SendQuota } from '../email/message.ts';
import { CANCELLABLE, DELIVERING, doneCount, inFlightOutcome, isSkipReason, zeroCounts, zeroSkips, type Send, type SendStatus } from './model.ts';
import type { SendRepository } from './ports.ts';
import type { Clock } from '../clock.ts';
import type { DeliverySettings } from './deps.ts';

/** What settling needs: the send table and the time. */
export interface SettlementDeps {
  sends: SendRepository;
  clock: Clock;
  log?: ((msg: string, detail?: unknown) => void) | undefined;
}

const iso = (deps: SettlementDeps) => deps.clock.now().toISOString();

/** Expires a send whose deadline passed while it was delivering or paused. */
export async function expireSend(deps: SettlementDeps, send: Send): Promise<void> {
  const left = Math.max(0, send.counts.planned - doneCount(send.counts));
  await deps.sends.setStatus(send.id, {
    from: [...DELIVERING, 'paused'],
    to: 'expired',
    at: iso(deps),
    reason: `its deadline ${send.deadline} passed before it finished; about ${left} recipient(s) were not sent, so no stale mail went out`,
  });
}

/** Expires a pending send that was never picked up in time. */
export async function expireUnstarted(deps: SettlementDeps, send: Send): Promise<void> {
  await deps.sends.setStatus(send.id, {
    from: ['pending'],
    to: 'expired',
    at: iso(deps),
    reason: `not started before its deadline ${send.deadline} (created ${send.createdAt}): the system was not running; nothing was sent, so no stale mail went out`,
  });
}

/** Ends a send that cannot start (its article is gone), or that has nothing to send, before planning. */
export async function endUnstarted(deps: SettlementDeps, id: string, to: 'failed' | 'completed', reason: string): Promise<boolean> {
  return deps.sends.setStatus(id, { from: ['pending'], to, at: iso(deps), reason });
}

/** Pauses a delivering send of this generation; false when it was not delivering any more. */
export async function pauseSend(deps: SettlementDeps, send: Pick<Send, 'id' | 'generation'>, reason: string): Promise<boolean> {
  const paused = await deps.sends.setStatus(send.id, { from: DELIVERING, to: 'paused', at: iso(deps), reason, generation: send.generation });
  if (paused) deps.log?.(`send ${send.id} paused`, reason);
  return paused;
}

/** The publisher's cancel: false when the send was in no cancellable status. */
export function cancel(deps: SettlementDeps, id: string): Promise<boolean> {
  return deps.sends.setStatus(id, { from: CANCELLABLE, to: 'cancelled', at: iso(deps), reason: 'cancelled by the publisher' });
}

/** A resumed send that was already past its deadline. */
export function expireOnResume(deps: SettlementDeps, send: Send, from: readonly SendStatus[]): Promise<boolean> {
  return deps.sends.setStatus(send.id, {
    from,
    to: 'expired',
    at: iso(deps),
    reason: `resumed after its deadline ${send.deadline}; what was left was not sent stale`,
  });
}

/** Why a send should pause now for its error rate, if it should. */
export function pauseReason(send: Send, settings: Pick<DeliverySettings, 'errorThreshold' | 'errorMinAttempts'>): string | undefined {
  const c = send.counts;
  const attempts = c.submitted + c.failed + c.uncertain - (send.errorBaseline?.attempts ?? 0);
  const failed = c.failed - (send.errorBaseline?.failed ?? 0);
  if (attempts < settings.errorMinAttempts || failed / attempts <= settings.errorThreshold) return undefined;
  const top = Object.entries(send.errors).sort((a, b) => b[1].count - a[1].count)[0];
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  return (
    `${failed} of ${attempts} attempts failed (${pct(failed / attempts)}), above the ${pct(settings.errorThreshold)} threshold` +
    (top ? `; most frequent error: ${top[0]} (${top[1].count}x)${top[1].message ? `: ${top[1].message}` : ''}` : '') +
    `. Fix the cause, then POST /api/sends/${send.id}/resume (failed recipients are tried again).`
  );
}

/**
 * Why a send must pause for the account's 24-hour quota, if `more` recipients do not fit in it. SES counts
 * the last 24 hours on a rolling basis and does not say when its oldest messages age out: room comes back
 * gradually, and all of it at the latest 24 hours from now.
 */
export function quotaPauseReason(send: Pick<Send, 'id'>, quota: SendQuota, more: number, now: Date): string | undefined {
  if (!(quota.max24HourSend > 0)) return undefined; // SES reports -1 for an unlimited quota
  const room = Math.max(0, Math.floor(quota.max24HourSend - quota.sentLast24Hours));
  if (more <= room) return undefined;
  const by = new Date(now.getTime() + 24 * 3_600_000).toISOString();
  return (
    `the account's 24-hour sending quota has room for ${room} more message(s) (Max24HourSend ${quota.max24HourSend}, SentLast24Hours ${quota.sentLast24Hours}) ` +
    `and this send needs ${more} more; nothing more goes out until there is room. Room comes back as the mail of the last 24 hours ages out, ` +
    `all of it by ${by}: POST /api/sends/${send.id}/resume then (or sooner), or ask AWS for a higher quota.`
  );
}

/**
 * Counts every delivery record of the send. With `complete`, records still `sending` become `uncertain`
 * (every batch was counted, so no call of this generation is in flight) and the send completes; otherwise
 * (a cancelled or expired send) the counts are refreshed and records are left as they are.
 */
export async function settle(deps: SettlementDeps, send: Send, mode: 'complete' | 'recount'): Promise<boolean> {
  const counts = zeroCounts();
  const skippedBy = zeroSkips();
  const errors: Record<string, { count: number; message: string }> = {};
  const error = (code: string, message: string) => (errors[code] ??= { count: 0, message }).count++;
  let records = 0;
  let final = 0;
  const at = iso(deps);
  for await (const page of deps.sends.ledger(send.id)) {
    for (const d of page) {
      records++;
      if (d.state === 'sending') {
        const detail = 'still in flight when every batch had finished; it may or may not have been sent';
        const outcome = inFlightOutcome(d, 'InFlightAtEnd', detail, at);
        if (mode === 'complete') {
          await deps.sends.updateDelivery(send.id, d.subscriberId, { from: ['sending'], claim: d.claim }, outcome);
          if (outcome.state === 'uncertain') error('InFlightAtEnd', detail);
        }
        counts[outcome.state]++;
      } else if (d.state === 'pending') {
        if (mode === 'complete') {
          await deps.sends.updateDelivery(
            send.id,
            d.subscriberId,
            { from: ['pending'], claim: d.claim },
            {
              state: 'failed',
              code: 'NotSent',
              detail: 'given up after repeated throttling; a resume tries it again',
            },
          );
          counts.failed++;
          error('NotSent', 'given up after repeated throttling; a resume tries it again');
        }
      } else {
        counts[d.state]++;
        final++;
        if (d.state === 'skipped' && isSkipReason(d.code)) skippedBy[d.code]++;
        if ((d.state === 'failed' || d.state === 'uncertain') && d.code) error(d.code, d.detail ?? d.code);
      }
    }
  }
  counts.skipped += send.plan.skipped;
  for (const [code, n] of Object.entries(send.plan.skippedBy)) if (isSkipReason(code)) skippedBy[code] += n ?? 0;
  counts.planned = mode === 'complete' ? records + send.plan.skipped : Math.max(send.counts.planned, records + send.plan.skipped);
  return deps.sends.settle(send.id, counts, at, {
    finalRecords: mode === 'complete' ? records : final,
    errors,
    skippedBy,
    complete: mode === 'complete' ? { generation: send.generation } : undefined,
  });
}

/** Completes a send whose every batch is counted (or a dry run whose plan is done). */
export async function settleIfDone(deps: SettlementDeps, send: Send): Promise<void> {
  if (send.status !== 'sending' || !send.plan.done) return;
  if (send.dryRun) {
    await deps.sends.setStatus(send.id, { from: ['sending'], to: 'completed', at: iso(deps), reason: 'dry run: the audience was counted, nothing was sent' });
    return;
  }
  if (send.batchesDone < send.plan.batches) return;
  await settle(deps, send, 'complete');
}

/** After a batch's count came too late (the send stopped meanwhile): recount a stopped send from the ledger. */
export async function recountIfStopped(deps: SettlementDeps, id: string, generation: number): Promise<boolean> {
  const now = await deps.sends.get(id);
  if (now && now.generation === generation && !DELIVERING.includes(now.status)) {
    await settle(deps, now, 'recount');
    return true;
  }
  return false;
}
