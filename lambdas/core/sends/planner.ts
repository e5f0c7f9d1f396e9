/**
 * Planning: a send's audience paged into batches on the queue, with a checkpoint that moves only after
 * the page is queued (a crash re-queues the page; delivery records make the duplicate harmless). And the
 * end of a send: when every batch of its generation is counted, the counts are recounted from the
 * delivery ledger and the send completes; past the error threshold it pauses instead.
 */
import { isAppError } from '../errors.ts';
import { audienceOf, digestFor, digestSince, topicsMatch } from './audience.ts';
import { buildContent } from './content.ts';
import type { SendDeps } from './deps.ts';
import { writeArchive } from './archive.ts';
import { zeroCounts, type BatchMessage, type Send, type SendContent } from './model.ts';

interface PlanCursor {
  /** Index into the send's audience partitions. */
  f: number;
  k?: string | undefined;
}
const readCursor = (c: string | undefined): PlanCursor => (c ? (JSON.parse(c) as PlanCursor) : { f: 0 });
const writeCursor = (c: PlanCursor): string => JSON.stringify(c);

const log = (deps: SendDeps, msg: string, detail?: unknown) => deps.log?.(msg, detail);

/** Picks up a `pending` send: expires it when too late, freezes its content, starts planning. */
export async function startSend(deps: SendDeps, id: string): Promise<void> {
  const send = await deps.sends.get(id);
  if (!send || send.status !== 'pending') return;
  const now = deps.clock.now();
  if (now.toISOString() > send.deadline) {
    await deps.sends.setStatus(id, {
      from: ['pending'],
      to: 'expired',
      at: now.toISOString(),
      reason: `not started before its deadline ${send.deadline} (created ${send.createdAt}): the system was not running; nothing was sent, so no stale mail went out`,
    });
    return;
  }
  let content: SendContent;
  try {
    content = (await deps.sends.getContent(id)) ?? (await deps.sends.putContent(id, await buildContent(deps, send)));
  } catch (e) {
    if (isAppError(e)) {
      await deps.sends.setStatus(id, { from: ['pending'], to: 'failed', at: now.toISOString(), reason: e.message });
      return;
    }
    throw e;
  }
  if (content.kind === 'digest' && content.articles.length === 0) {
    await deps.sends.setStatus(id, {
      from: ['pending'],
      to: 'completed',
      at: now.toISOString(),
      reason: `no article was published in the ${content.period} digest's window (up to ${content.windowEnd}); nobody gets an empty digest`,
    });
    return;
  }
  if (await deps.sends.beginPlanning(id, now.toISOString(), deps.settings.perBatch)) await continuePlanning(deps, id);
}

/**
 * Pages the audience from the checkpoint until done or out of budget. Safe to run twice at once: the
 * conditional checkpoint lets one page be counted once; a page queued twice is deduplicated by the
 * delivery records.
 */
export async function continuePlanning(deps: SendDeps, id: string): Promise<void> {
  const started = Date.now();
  let content: SendContent | undefined;
  for (;;) {
    const send = await deps.sends.get(id);
    if (!send || send.status !== 'planning' || send.plan.done) return;
    content ??= await deps.sends.getContent(id);
    if (!content) throw new Error(`send ${id} is planning without frozen content`);
    // A confirmation send pages the pending subscribers: one partition.
    const partitions = send.kind === 'confirmation' ? [undefined] : audienceOf(send);
    const at = readCursor(send.plan.cursor);
    const page =
      send.kind === 'confirmation'
        ? await deps.audience.pending(send.importId, at.k, deps.settings.planPageSize)
        : await deps.audience.page(partitions[at.f]!, at.k, deps.settings.planPageSize);

    const chosen: [string, string][] = [];
    let skipped = 0;
    for (const m of page.members) {
      if (content.kind === 'confirmation') chosen.push([m.id, m.emailHash]);
      else if (content.kind === 'article') {
        // Not among the article's topics: not in this send's audience at all (not counted).
        if (topicsMatch(m.topics, content.article.tags)) chosen.push([m.id, m.emailHash]);
      } else if (digestFor(m, content.articles).length > 0 || digestSince(m) >= content.windowEnd) {
        // Someone already past this window (a resumed send) is queued: the worker finds their record.
        chosen.push([m.id, m.emailHash]);
      } else skipped++;
    }
    const batches: BatchMessage[] = [];
    if (!send.dryRun) {
      for (let i = 0; i < chosen.length; i += send.plan.perBatch) {
        batches.push({ v: 1, sendId: id, generation: send.generation, batchId: `${send.plan.pages}.${batches.length}`, recipients: chosen.slice(i, i + send.plan.perBatch) });
      }
      await deps.queue.enqueue(batches);
    }
    const next: PlanCursor | undefined = page.next ? { f: at.f, k: page.next } : at.f + 1 < partitions.length ? { f: at.f + 1 } : undefined;
    const moved = await deps.sends.checkpointPlan(
      id,
      { generation: send.generation, from: send.plan.cursor, next: next && writeCursor(next), planned: chosen.length + skipped, skipped, batches: batches.length },
      deps.clock.now().toISOString(),
    );
    if (!moved) continue;
    if (!next) {
      const after = await deps.sends.get(id);
      if (after) await settleIfDone(deps, after);
      return;
    }
    if (Date.now() - started > deps.settings.planBudgetMs) return;
  }
}

/** Why a send should pause now, if it should. */
export function pauseReason(send: Send, settings: Pick<SendDeps['settings'], 'errorThreshold' | 'errorMinAttempts'>): string | undefined {
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
 * Counts every delivery record of the send. With `complete`, records still `sending` become `uncertain`
 * (every batch was counted, so no call of this generation is in flight) and the send completes; otherwise
 * (a cancelled or expired send) the counts are refreshed and records are left as they are.
 */
export async function settle(deps: Pick<SendDeps, 'sends' | 'clock'>, send: Send, mode: 'complete' | 'recount'): Promise<boolean> {
  const counts = zeroCounts();
  const errors: Record<string, { count: number; message: string }> = {};
  const error = (code: string, message: string) => ((errors[code] ??= { count: 0, message }).count++);
  let records = 0;
  let final = 0;
  const at = deps.clock.now().toISOString();
  for await (const page of deps.sends.ledger(send.id)) {
    for (const d of page) {
      records++;
      if (d.state === 'sending') {
        if (mode === 'complete') {
          await deps.sends.updateDelivery(send.id, d.subscriberId, { from: ['sending'], claim: d.claim }, {
            state: 'uncertain',
            code: 'InFlightAtEnd',
            detail: 'still in flight when every batch had finished; it may or may not have been sent',
          });
          error('InFlightAtEnd', 'still in flight when every batch had finished; it may or may not have been sent');
        }
        counts.uncertain++;
      } else if (d.state === 'pending') {
        if (mode === 'complete') {
          await deps.sends.updateDelivery(send.id, d.subscriberId, { from: ['pending'], claim: d.claim }, {
            state: 'failed',
            code: 'NotSent',
            detail: 'given up after repeated throttling; a resume tries it again',
          });
          counts.failed++;
          error('NotSent', 'given up after repeated throttling; a resume tries it again');
        }
      } else {
        counts[d.state]++;
        final++;
        if ((d.state === 'failed' || d.state === 'uncertain') && d.code) error(d.code, d.detail ?? d.code);
      }
    }
  }
  counts.skipped += send.plan.skipped;
  counts.planned = mode === 'complete' ? records + (send.plan.skipped) : Math.max(send.counts.planned, records + (send.plan.skipped));
  return deps.sends.settle(send.id, counts, at, { finalRecords: mode === 'complete' ? records : final, errors, complete: mode === 'complete' ? { generation: send.generation } : undefined });
}

/** Completes a send whose every batch is counted (or a dry run whose plan is done). */
export async function settleIfDone(deps: SendDeps, send: Send): Promise<void> {
  if (send.status !== 'sending' || !send.plan.done) return;
  if (send.dryRun) {
    await deps.sends.setStatus(send.id, { from: ['sending'], to: 'completed', at: deps.clock.now().toISOString(), reason: 'dry run: the audience was counted, nothing was sent' });
    return;
  }
  if (send.batchesDone < send.plan.batches) return;
  await settle(deps, send, 'complete');
}

/**
 * What the stream of Send items asks for: start a pending send, continue planning after a checkpoint,
 * pause past the error threshold, complete when the last batch is counted, recount a stopped send, and
 * archive a digest that went out. `before` is the image before the change (absent for a new item).
 */
export async function onSendChanged(deps: SendDeps, before: Send | undefined, after: Send): Promise<void> {
  const changed = before?.status !== after.status || before.generation !== after.generation;
  switch (after.status) {
    case 'pending':
      return startSend(deps, after.id);
    case 'planning':
    case 'sending': {
      const reason = pauseReason(after, deps.settings);
      if (reason) {
        if (await deps.sends.setStatus(after.id, { from: ['planning', 'sending'], to: 'paused', at: deps.clock.now().toISOString(), reason, generation: after.generation })) {
          log(deps, `send ${after.id} paused`, reason);
        }
        return;
      }
      if (after.status === 'planning' && !after.plan.done && (changed || before?.plan.cursor !== after.plan.cursor)) return continuePlanning(deps, after.id);
      return settleIfDone(deps, after);
    }
    case 'cancelled':
    case 'expired':
      if (changed && before && before.status !== 'pending') await settle(deps, after, 'recount');
      return;
    case 'completed':
      if (changed && after.kind === 'digest' && !after.dryRun && !after.archivePath && after.counts.submitted > 0 && deps.store) {
        await writeArchive(deps, after);
      }
      return;
    default:
      return;
  }
}
