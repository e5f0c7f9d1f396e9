/**
 * Planning: a send's audience paged into batches on the queue, with a checkpoint that moves only after
 * the page is queued (a crash re-queues the page; delivery records make the duplicate harmless). Each
 * batch holds about what one worker sends in `messageSeconds` (limits module), so work spreads over the
 * workers. How a send ends is settlement's (./settlement.ts); this module asks it.
 */
import { isAppError } from '../errors.ts';
import { audienceOf, digestFor, digestSince, emptyDigestReason, topicsMatch } from './audience.ts';
import { buildContent } from './content.ts';
import type { SendDeps } from './deps.ts';
import { writeArchive } from '../feeds/archive.ts';
import { doneCount, type BatchMessage, type Send, type SendContent, type SkipCounts } from './model.ts';
import { endUnstarted, expireUnstarted, pauseReason, pauseSend, quotaPauseReason, settle, settleIfDone } from './settlement.ts';

interface PlanCursor {
  /** Index into the send's audience partitions. */
  f: number;
  k?: string | undefined;
}
const readCursor = (c: string | undefined): PlanCursor => (c ? (JSON.parse(c) as PlanCursor) : { f: 0 });
const writeCursor = (c: PlanCursor): string => JSON.stringify(c);

/** Recipients queued in this generation that have no outcome yet (they still count against the quota). */
const queuedNotDone = (send: Send) => Math.max(0, send.counts.planned - doneCount(send.counts));

/** Picks up a `pending` send: expires it when too late, freezes its content, starts planning. */
export async function startSend(deps: SendDeps, id: string): Promise<void> {
  const send = await deps.sends.get(id);
  if (send?.status !== 'pending') return;
  const now = deps.clock.now();
  if (now.toISOString() > send.deadline) {
    await expireUnstarted(deps, send);
    return;
  }
  let content: SendContent;
  try {
    content = (await deps.sends.getContent(id)) ?? (await deps.sends.putContent(id, await buildContent(deps, send)));
  } catch (e) {
    if (isAppError(e)) {
      await endUnstarted(deps, id, 'failed', e.message);
      return;
    }
    throw e;
  }
  if (content.kind === 'digest' && content.articles.length === 0) {
    await endUnstarted(
      deps,
      id,
      'completed',
      `no article was published in the ${content.period} digest's window (up to ${content.windowEnd}); nobody gets an empty digest`,
    );
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
  const started = deps.clock.now().getTime();
  let content: SendContent | undefined;
  for (;;) {
    const send = await deps.sends.get(id);
    if (send?.status !== 'planning' || send.plan.done) return;
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
    const skippedBy: Partial<SkipCounts> = {};
    for (const m of page.members) {
      if (content.kind === 'confirmation') chosen.push([m.id, m.emailHash]);
      else if (content.kind === 'article') {
        // Not among the article's topics: not in this send's audience at all (not counted).
        if (topicsMatch(m.topics, content.article.tags)) chosen.push([m.id, m.emailHash]);
      } else if (digestFor(m, content.articles).length > 0 || digestSince(m) >= content.windowEnd) {
        // Someone already past this window (a resumed send) is queued: the worker finds their record.
        chosen.push([m.id, m.emailHash]);
      } else {
        skipped++;
        const why = emptyDigestReason(m, content.articles);
        skippedBy[why] = (skippedBy[why] ?? 0) + 1;
      }
    }
    const batches: BatchMessage[] = [];
    if (!send.dryRun && chosen.length > 0 && deps.quota) {
      // The account's 24-hour quota: a page that does not fit is not queued; the send pauses with when it can go on.
      const quota = await deps.quota.getSendQuota();
      const reason = quotaPauseReason(send, quota, chosen.length + queuedNotDone(send), deps.clock.now());
      if (reason) {
        await pauseSend(deps, send, reason);
        return;
      }
    }
    if (!send.dryRun) {
      for (let i = 0; i < chosen.length; i += send.plan.perBatch) {
        batches.push({
          v: 1,
          sendId: id,
          generation: send.generation,
          batchId: `${send.plan.pages}.${batches.length}`,
          recipients: chosen.slice(i, i + send.plan.perBatch),
        });
      }
      await deps.queue.enqueue(batches);
    }
    const next: PlanCursor | undefined = page.next ? { f: at.f, k: page.next } : at.f + 1 < partitions.length ? { f: at.f + 1 } : undefined;
    const moved = await deps.sends.checkpointPlan(
      id,
      {
        generation: send.generation,
        from: send.plan.cursor,
        next: next && writeCursor(next),
        planned: chosen.length + skipped,
        skipped,
        skippedBy,
        batches: batches.length,
      },
      deps.clock.now().toISOString(),
    );
    if (!moved) continue;
    if (!next) {
      const after = await deps.sends.get(id);
      if (after) await settleIfDone(deps, after);
      return;
    }
    if (deps.clock.now().getTime() - started > deps.settings.planBudgetMs) return;
  }
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
        await pauseSend(deps, after, reason);
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
