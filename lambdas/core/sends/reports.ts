/**
 * What the provider reported about a send's messages (SES's delivery, bounce, complaint, reject and delay
 * events), recorded per recipient and summed per send. A report also settles what a crash left unsure: it
 * proves the provider got the call, so a recipient left `uncertain` becomes `submitted`, and one still
 * `sending` (its process may have died) is marked so that it becomes `submitted` when it is settled.
 */
import type { ReportKind } from './model.ts';
import type { Reconcile, SendRepository } from './ports.ts';

export interface ReportDeps {
  sends: Pick<SendRepository, 'deliveries' | 'report'>;
}

/**
 * `recorded`: counted (and the record settled, if it had to be); `reconciled`: an `uncertain` recipient is
 * now `submitted`; `duplicate`: reported before; `unchanged`: a Send event for a record already settled;
 * `unknown`: no delivery record matches the tags (a test send, a preview, or records that are gone).
 */
export type ReportOutcome = 'recorded' | 'reconciled' | 'duplicate' | 'unchanged' | 'unknown';

/** Send and subscriber ids as the send engine tags its messages (`send_id`, `subscriber_id`). */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Records one report about one recipient's message, once per kind (a replayed event is a `duplicate`).
 * `unknown`: no delivery record matches the tags (a test send, a preview, or a send whose records are gone).
 */
export async function recordReport(
  deps: ReportDeps,
  r: { sendId: string; subscriberId: string; kind: ReportKind | 'sent'; at: string; messageId: string },
): Promise<ReportOutcome> {
  if (!ID.test(r.sendId) || !ID.test(r.subscriberId)) return 'unknown';
  for (let attempt = 0; attempt < 5; attempt++) {
    const d = (await deps.sends.deliveries(r.sendId, [r.subscriberId])).get(r.subscriberId);
    if (!d) return 'unknown';
    const reconcile: Reconcile | undefined =
      d.state === 'uncertain'
        ? { from: 'uncertain', claim: d.claim, code: d.code }
        : d.state === 'sending' && !d.reportedMessageId
          ? { from: 'sending', claim: d.claim }
          : undefined;
    // SES accepted a call whose record is settled already: the normal case, nothing to write.
    if (r.kind === 'sent' && !reconcile) return 'unchanged';
    const outcome = await deps.sends.report(r, reconcile);
    if (outcome === 'moved') continue; // the record changed since it was read (its worker wrote the outcome): read it again
    return outcome === 'recorded' && reconcile?.from === 'uncertain' ? 'reconciled' : outcome;
  }
  throw new Error(`the delivery record of ${r.sendId}/${r.subscriberId} kept changing while a report was recorded`);
}
