/**
 * A **given-up batch** (a dead letter): a batch message the queue stopped redelivering after its last
 * receive (SQS moves it to the send dead-letter queue; the in-process queue to its dead-letter list).
 * Settling it gives every recipient of the batch an outcome, so its send completes instead of waiting in
 * `sending` for ever, and nobody is lost in silence:
 *
 * - no delivery record (never claimed): a record in `failed`, code `GivenUp`; a resume tries it again;
 * - `pending` (claimed, then given back: the provider certainly did not take it): `failed`, `GivenUp`;
 * - `sending` (the provider call was in flight when its process stopped): `uncertain`, never sent again;
 * - a final state: left as it is (and counted when this batch owns it, as the worker counts it on a
 *   redelivery: no attempt of the batch was ever counted).
 *
 * Every change is the worker's conditional write: a claim where no record exists, a change held by the
 * record's claim, and the record then owned by the batch's generation and batch id. The batch is then
 * counted once, through its tally marker, so a dead letter handled twice counts nothing twice; the
 * planner completes the send when its last batch is counted, recounting from the ledger. A dead letter of
 * an older generation, or of a send that no longer delivers, is dropped, as the worker drops such a batch.
 */
import { randomBytes } from 'node:crypto';
import type { SendDeps } from './deps.ts';
import { DELIVERING, inFlightOutcome, isSkipReason, type BatchMessage, type Delivery, type DeliveryState } from './model.ts';
import type { TallyDelta } from './ports.ts';
import { expireSend, recountIfStopped } from './settlement.ts';

/** Error code of a recipient whose batch was given up before the provider was called for it. */
export const GIVEN_UP = 'GivenUp';
/** Error code of a recipient whose provider call was in flight when its batch was given up. */
export const IN_FLIGHT_AT_GIVE_UP = 'InFlightAtGiveUp';

/** The send table is all it needs: no queue, no mailer, no renderer. */
export type DeadLetterDeps = Pick<SendDeps, 'sends' | 'clock' | 'log'>;

/**
 * - `counted`: every recipient of the batch has an outcome and the batch is counted.
 * - `duplicate`: handled before; nothing changed and nothing was counted again.
 * - `recounted`: the send stopped meanwhile (paused, cancelled); its counts were recounted from the ledger.
 * - `expired`: the send's deadline had passed; it is now `expired` (what was left is not sent stale).
 * - `dropped`: a batch of an older generation, or of a send that is gone or not delivering.
 */
export type DeadLetterOutcome = 'counted' | 'duplicate' | 'recounted' | 'expired' | 'dropped';

/** Records claimed in one conditional write (one transaction of puts). */
const WAVE = 25;
/** Passes over recipients whose record moved between the read and the conditional write. */
const PASSES = 3;

const newClaim = () => randomBytes(9).toString('base64url');

/**
 * Settles one given-up batch. `attempts`: how many times the queue handed it to the worker (its maximum
 * receive count). Safe to run again on the same message, and at the same time as a resume.
 */
export async function settleGivenUpBatch(deps: DeadLetterDeps, msg: BatchMessage, attempts: number): Promise<DeadLetterOutcome> {
  const send = await deps.sends.get(msg.sendId);
  if (!send || send.generation !== msg.generation || !DELIVERING.includes(send.status)) return 'dropped';
  if (deps.clock.now().toISOString() > send.deadline) {
    await expireSend(deps, send);
    return 'expired';
  }

  const givenUp = `its batch was given up after ${attempts} attempts before this recipient was sent; a resume tries it again`;
  const delta: TallyDelta = { counts: {}, errors: {}, sentArticles: [] };
  const count = (state: DeliveryState, n = 1, code?: string) => {
    if (state !== 'sending' && state !== 'pending') delta.counts[state] = (delta.counts[state] ?? 0) + n;
    if (state === 'skipped' && isSkipReason(code)) (delta.skips ??= {})[code] = (delta.skips[code] ?? 0) + n;
  };
  const error = (code: string, message: string) => (delta.errors[code] ??= { count: 0, message }).count++;
  const mine = () => ({ claimedAt: deps.clock.now().toISOString(), generation: send.generation, batchId: msg.batchId });

  /** Settles a record that exists; false when it moved meanwhile (look at it again). */
  const settleExisting = async (x: Delivery): Promise<boolean> => {
    // A record of a newer generation belongs to a resume that is running now: not ours to touch.
    if (x.generation > send.generation) return true;
    if (x.state === 'sending') {
      // Every receive of the batch has ended, so nobody holds this claim any more: its call may have gone out.
      const detail = `the provider call was in flight (claimed ${x.claimedAt}) when its batch was given up after ${attempts} attempts; it may or may not have been sent, so it is never sent again`;
      const outcome = inFlightOutcome(x, IN_FLIGHT_AT_GIVE_UP, detail, deps.clock.now().toISOString());
      const was = await deps.sends.updateDelivery(send.id, x.subscriberId, { from: ['sending'], claim: x.claim }, { ...mine(), ...outcome });
      if (!was) return false;
      count(outcome.state);
      if (outcome.state === 'uncertain') error(IN_FLIGHT_AT_GIVE_UP, detail);
      if (x.retriedFrom === 'failed' || x.retriedFrom === 'uncertain') count(x.retriedFrom, -1);
      return true;
    }
    if (x.state === 'pending') {
      const was = await deps.sends.updateDelivery(
        send.id,
        x.subscriberId,
        { from: ['pending'], claim: x.claim },
        { ...mine(), state: 'failed', code: GIVEN_UP, detail: givenUp },
      );
      if (!was) return false;
      count('failed');
      error(GIVEN_UP, givenUp);
      // A failure (or uncertain record) of an earlier generation being retried is counted as such already.
      if (x.retriedFrom === 'failed' || x.retriedFrom === 'uncertain') count(x.retriedFrom, -1);
      return true;
    }
    // A final state stays as it is. One this batch owns was never counted: no attempt of the batch ended counted.
    if (x.generation === send.generation && x.batchId === msg.batchId) {
      count(x.state, 1, x.code);
      if (x.retriedFrom === 'failed' || x.retriedFrom === 'uncertain') count(x.retriedFrom, -1);
      if ((x.state === 'failed' || x.state === 'uncertain') && x.code) error(x.code, x.detail ?? x.code);
    }
    return true;
  };

  let left = [...new Set(msg.recipients.map(([id]) => id))];
  for (let pass = 0; left.length > 0; pass++) {
    if (pass === PASSES)
      throw new Error(`send ${send.id}: the delivery records of ${left.length} recipient(s) of batch ${msg.batchId} kept moving; try the dead letter again`);
    const moved: string[] = [];
    for (let i = 0; i < left.length; i += WAVE) {
      const wave = left.slice(i, i + WAVE);
      const records = wave.map(
        (subscriberId): Delivery => ({ sendId: send.id, subscriberId, state: 'failed', claim: newClaim(), ...mine(), code: GIVEN_UP, detail: givenUp }),
      );
      const existing = await deps.sends.claimDeliveries(records);
      for (const id of wave) {
        const x = existing.get(id);
        if (!x) {
          count('failed');
          error(GIVEN_UP, givenUp);
        } else if (!(await settleExisting(x))) moved.push(id);
      }
    }
    left = moved;
  }

  const counted = await deps.sends.tally(send.id, send.generation, msg.batchId, delta, deps.clock.now().toISOString());
  if (counted !== 'stale') return counted === 'tallied' ? 'counted' : 'duplicate';
  // The send stopped while this ran: its counts come from a recount of the ledger, now that these records are written.
  return (await recountIfStopped(deps, send.id, send.generation)) ? 'recounted' : 'dropped';
}
