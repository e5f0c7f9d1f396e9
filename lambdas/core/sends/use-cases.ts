/**
 * The publisher's side of sending: create a send (API or schedule), preview it, test it on a few
 * addresses, watch it, cancel and resume it.
 */
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { withIdempotency, type IdempotencyOptions, type Replayable } from '../idempotency.ts';
import type { RenderedEmail } from '../email/templates.ts';
import { digestFor, digestSince, eligibility, topicsMatch } from './audience.ts';
import { buildContent, composeEmail, sampleRecipient, PreparedCache } from './content.ts';
import type { DeliveryDeps, SendDeps } from './deps.ts';
import {
  CANCELLABLE,
  RESUMABLE,
  doneCount,
  zeroReports,
  zeroSkips,
  type AudienceChoice,
  type DigestCandidate,
  type DigestFrequency,
  type NewSend,
  type Send,
  type SendContent,
  type SendReports,
  type SendTrigger,
} from './model.ts';
import { SendExists } from './ports.ts';
import { cancel, expireOnResume, settleIfDone } from './settlement.ts';

const HOUR = 3_600_000;
/**
 * How long after its creation (or scheduled time) a send may still go out. A digest that could not go
 * out by then is expired, not sent stale; its articles are in the next digest (`lastDigestAt` did not move).
 */
export const SEND_DEADLINE_MS: Record<'article' | 'confirmation' | DigestFrequency, number> = {
  article: 24 * HOUR,
  confirmation: 72 * HOUR,
  daily: 12 * HOUR,
  weekly: 48 * HOUR,
};

export interface SendRequest {
  kind: 'article' | 'digest' | 'confirmation';
  /** Confirmation: only this import's pending subscribers. */
  importId?: string | undefined;
  frequency?: AudienceChoice | undefined;
  articleId?: string | undefined;
  topics?: string[] | undefined;
  subject?: string | undefined;
  intro?: string | undefined;
  dryRun?: boolean | undefined;
}

export type { IdempotencyOptions };

function validate(req: SendRequest): void {
  const only = (field: keyof SendRequest, kinds: string) => {
    if (req[field] !== undefined)
      throw new AppError('request.invalid', `${field} does not apply to a ${req.kind} send`, { issues: [{ path: field, message: `only for kind ${kinds}` }] });
  };
  if (req.kind === 'confirmation') {
    for (const f of ['frequency', 'articleId', 'topics', 'intro'] as const) only(f, '"article" or "digest"');
    return;
  }
  only('importId', '"confirmation"');
  if (req.kind === 'digest') {
    if (req.frequency !== 'daily' && req.frequency !== 'weekly') {
      throw new AppError('request.invalid', 'a digest needs frequency "daily" or "weekly"', {
        issues: [{ path: 'frequency', message: 'must be daily or weekly for a digest' }],
      });
    }
    if (req.articleId)
      throw new AppError('request.invalid', 'a digest takes no articleId', { issues: [{ path: 'articleId', message: 'only for kind "article"' }] });
  } else if (!req.articleId) {
    throw new AppError('request.invalid', 'an article send needs articleId', { issues: [{ path: 'articleId', message: 'is required for kind "article"' }] });
  }
}

export function newSend(deps: Pick<SendDeps, 'clock'>, req: SendRequest, trigger: SendTrigger, opts: { id?: string; at?: Date } = {}): NewSend {
  const now = deps.clock.now();
  const at = opts.at ?? now;
  const window = SEND_DEADLINE_MS[req.kind === 'digest' ? (req.frequency as DigestFrequency) : req.kind];
  if (req.kind === 'confirmation') {
    return {
      id: opts.id ?? newId(now),
      kind: 'confirmation',
      trigger,
      status: 'pending',
      createdAt: now.toISOString(),
      deadline: new Date(at.getTime() + window).toISOString(),
      importId: req.importId,
      subject: req.subject,
      dryRun: req.dryRun || undefined,
    };
  }
  return {
    id: opts.id ?? newId(now),
    kind: req.kind,
    trigger,
    status: 'pending',
    createdAt: now.toISOString(),
    deadline: new Date(at.getTime() + window).toISOString(),
    articleId: req.articleId,
    frequency: req.kind === 'digest' ? req.frequency : (req.frequency ?? 'instant'),
    topics: req.topics?.length ? req.topics : undefined,
    subject: req.subject,
    intro: req.intro,
    dryRun: req.dryRun || undefined,
    windowEnd: req.kind === 'digest' ? at.toISOString() : undefined,
  };
}

/**
 * Creates a send from the API (202: it is planned and delivered in the background). With an
 * Idempotency-Key the idempotency record is written in the same transaction as the Send, so a repeated
 * request never creates a second one.
 */
export async function createSend(deps: SendDeps, req: SendRequest, idempotency?: IdempotencyOptions): Promise<Replayable<SendOutput>> {
  validate(req);
  return withIdempotency(deps.sends, deps.clock, idempotency, async (claim) => {
    if (req.kind === 'article') await buildContent(deps, { ...req, createdAt: deps.clock.now().toISOString() }); // refuses an unpublished article now, with a 409
    const send = newSend(deps, req, 'api');
    const body = toSendOutput(materialise(send), deps.clock.now());
    await deps.sends.create(send, claim(202, body));
    return { status: 202, body, replayed: false };
  });
}

/**
 * Asks an import's pending subscribers to confirm: a confirmation send through the delivery engine
 * (paced, with a delivery ledger, progress and counts like any send). Its id is derived from the import,
 * so importing again, or a retried import job, creates one send.
 */
export async function requestImportConfirmations(deps: Pick<SendDeps, 'sends' | 'clock'>, importId: string): Promise<{ sendId: string }> {
  const send = newSend(deps, { kind: 'confirmation', importId }, 'import', { id: `confirm-${importId}` });
  try {
    await deps.sends.create(send);
  } catch (e) {
    if (!(e instanceof SendExists)) throw e;
  }
  return { sendId: send.id };
}

/** The payload of the digest schedules (EventBridge Scheduler in AWS, the local timer). */
export interface DigestEvent {
  frequency: DigestFrequency;
  /** The instant the run was scheduled for; a run that comes too late after it is reported as expired. */
  scheduledAt?: string | undefined;
}

/**
 * Starts the scheduled digest of one slot. The send's id is derived from the slot, so a repeated
 * invocation (Scheduler retries at least once) creates nothing new. A run that comes after the slot's
 * deadline (the system was down) records an `expired` send with the reason instead of mailing stale news.
 */
export async function startScheduledDigest(deps: SendDeps, event: DigestEvent): Promise<{ id: string; status: 'pending' | 'expired' | 'exists' }> {
  const now = deps.clock.now();
  const slot = event.scheduledAt ? new Date(event.scheduledAt) : now;
  if (Number.isNaN(slot.getTime())) throw new AppError('request.invalid', 'scheduledAt must be an ISO 8601 date-time');
  const id = `digest-${event.frequency}-${slot.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}`;
  const send = newSend(deps, { kind: 'digest', frequency: event.frequency }, 'schedule', { id, at: slot });
  const late = now.toISOString() > send.deadline;
  const item: NewSend = late
    ? {
        ...send,
        status: 'expired',
        reason: `the ${event.frequency} digest scheduled for ${slot.toISOString()} only ran at ${now.toISOString()}, after its deadline ${send.deadline} (the system was not running); it was not sent stale, and its articles go into the next digest`,
      }
    : send;
  try {
    await deps.sends.create(item);
  } catch (e) {
    if (e instanceof SendExists) return { id, status: 'exists' };
    throw e;
  }
  return { id, status: item.status };
}

/** A send as the API shows it, with its progress and an estimate of when it ends. */
export interface SendOutput {
  id: string;
  kind: Send['kind'];
  trigger: SendTrigger;
  status: Send['status'];
  reason?: string | undefined;
  articleId?: string | undefined;
  importId?: string | undefined;
  frequency?: AudienceChoice | undefined;
  topics?: string[] | undefined;
  subject?: string | undefined;
  dryRun: boolean;
  createdAt: string;
  deadline: string;
  startedAt?: string | undefined;
  completedAt?: string | undefined;
  counts: Send['counts'];
  /** `counts.skipped` by reason (`nothingNew`, `topicsExcludeAll`, …): nobody is skipped without one. */
  skippedBy: Send['skippedBy'];
  /** What SES reported about the submitted messages, one count per recipient and kind (no opens or clicks: none are tracked). */
  reported: SendReports;
  /** Share of planned recipients with an outcome, 0..1 (while planning, of those planned so far). */
  progress: number;
  /** Recipients submitted per second since the send started. */
  rate?: number | undefined;
  /** When the remaining recipients should be done at the current rate. */
  eta?: string | undefined;
  errors: { code: string; count: number; message?: string | undefined }[];
  archiveUrl?: string | undefined;
}

/** A freshly created send, as stored. */
function materialise(s: NewSend): Send {
  return {
    ...s,
    counts: { planned: 0, submitted: 0, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 },
    skippedBy: zeroSkips(),
    errors: {},
    generation: 0,
    plan: { done: false, pages: 0, batches: 0, skipped: 0, skippedBy: {}, perBatch: 0 },
    batchesDone: 0,
  };
}

export function toSendOutput(s: Send, now: Date, publicUrl?: string, reported: SendReports = zeroReports()): SendOutput {
  const done = doneCount(s.counts);
  const planned = s.counts.planned;
  const progress = s.status === 'completed' ? 1 : planned > 0 ? Math.min(1, done / planned) : 0;
  let rate: number | undefined;
  let eta: string | undefined;
  if (s.startedAt) {
    const end = s.completedAt ? new Date(s.completedAt).getTime() : now.getTime();
    const seconds = (end - new Date(s.startedAt).getTime()) / 1000;
    if (seconds > 0 && done > 0) rate = Math.round((done / seconds) * 10) / 10;
    if ((s.status === 'planning' || s.status === 'sending') && rate && rate > 0) {
      eta = new Date(now.getTime() + (Math.max(0, planned - done) / rate) * 1000).toISOString();
    }
  }
  return {
    id: s.id,
    kind: s.kind,
    trigger: s.trigger,
    status: s.status,
    reason: s.reason,
    articleId: s.articleId,
    importId: s.importId,
    frequency: s.frequency,
    topics: s.topics,
    subject: s.subject,
    dryRun: s.dryRun === true,
    createdAt: s.createdAt,
    deadline: s.deadline,
    startedAt: s.startedAt,
    completedAt: s.completedAt,
    counts: s.counts,
    skippedBy: s.skippedBy,
    reported,
    progress: Math.round(progress * 1000) / 1000,
    rate,
    eta,
    errors: Object.entries(s.errors)
      .filter(([, e]) => e.count > 0)
      .sort((a, b) => b[1].count - a[1].count)
      .map(([code, e]) => ({ code, count: e.count, message: e.message })),
    archiveUrl: s.archivePath && publicUrl ? publicUrl + s.archivePath.replace(/index\.html$/, '') : undefined,
  };
}

export async function getSend(deps: SendDeps, id: string): Promise<SendOutput> {
  let send = await deps.sends.get(id);
  if (!send) throw new AppError('send.notFound', `no send with id ${id}`);
  // Self-healing: a send whose last batch is counted completes here too, should its stream record have been lost.
  if (send.status === 'sending' && send.plan.done && send.batchesDone >= send.plan.batches) {
    await settleIfDone(deps, send);
    send = (await deps.sends.get(id)) ?? send;
  }
  const reported = (await deps.sends.reports([id])).get(id);
  return toSendOutput(send, deps.clock.now(), deps.site.publicUrl, reported);
}

export async function listSends(deps: SendDeps, q: { limit: number; cursor?: string | undefined }): Promise<{ items: SendOutput[]; next: string | null }> {
  const page = await deps.sends.list(q);
  const now = deps.clock.now();
  const reported = await deps.sends.reports(page.items.map((s) => s.id));
  return { items: page.items.map((s) => toSendOutput(s, now, deps.site.publicUrl, reported.get(s.id))), next: page.next };
}

/** Stops a send: batches still queued are dropped; what went out stays counted. Resumable. */
export async function cancelSend(deps: SendDeps, id: string): Promise<SendOutput> {
  const send = await deps.sends.get(id);
  if (!send) throw new AppError('send.notFound', `no send with id ${id}`);
  const ok = await cancel(deps, id);
  if (!ok) throw new AppError('send.invalidTransition', `send ${id} is ${send.status}; only a ${CANCELLABLE.join(', ')} send can be cancelled`);
  return getSend(deps, id);
}

/**
 * Resumes a paused or cancelled send, or re-drives one that stalled (its queue was lost with a crashed
 * local process, or a batch was given up): the audience is planned again; everyone with a delivery
 * record is passed over, records left `sending` by a dead process become `uncertain`, and failures are
 * tried again. With `retryUncertain`, recipients left `uncertain` are sent again too: the publisher's
 * choice, knowing that some of them may get the mail twice. A send past its deadline expires instead.
 */
export async function resumeSend(deps: SendDeps, id: string, options: { retryUncertain?: boolean | undefined } = {}): Promise<SendOutput> {
  const send = await deps.sends.get(id);
  if (!send) throw new AppError('send.notFound', `no send with id ${id}`);
  // A completed send whose failures may be retried (refused, given up, throttled to the end) resumes
  // too: failed recipients are tried again; uncertain ones whose call never reached SES (no Send event
  // within the report window), or all of them when asked; submitted ones never.
  const retriesFailures = send.status === 'completed' && !send.dryRun && (send.counts.failed > 0 || send.counts.uncertain > 0);
  if (!RESUMABLE.includes(send.status) && !retriesFailures) {
    throw new AppError(
      'send.invalidTransition',
      `send ${id} is ${send.status}; only a ${RESUMABLE.join(', ')} send, or a completed one with failed or uncertain recipients, can be resumed`,
    );
  }
  const from = retriesFailures ? (['completed'] as const) : RESUMABLE;
  const now = deps.clock.now();
  if (now.toISOString() > send.deadline) {
    if (retriesFailures)
      throw new AppError('send.invalidTransition', `send ${id} passed its deadline ${send.deadline}; its failed recipients are not sent stale`);
    await expireOnResume(deps, send, RESUMABLE);
    return getSend(deps, id);
  }
  const resumed = await deps.sends.resume(id, from, now.toISOString(), { retryUncertain: options.retryUncertain });
  if (!resumed) throw new AppError('send.invalidTransition', `send ${id} changed while resuming; try again`);
  return toSendOutput(resumed, now, deps.site.publicUrl, (await deps.sends.reports([id])).get(id));
}

/**
 * Re-drives every send a local runtime finds active on start: its in-process queue died with the
 * previous process. (SQS keeps its messages, so the AWS runtime does not need this.)
 */
export async function resumeActiveSends(deps: SendDeps, lookbackMs = 7 * 24 * HOUR): Promise<string[]> {
  const resumed: string[] = [];
  const oldest = new Date(deps.clock.now().getTime() - lookbackMs).toISOString();
  let cursor: string | undefined;
  for (;;) {
    const page = await deps.sends.list({ limit: 100, cursor });
    for (const s of page.items) {
      if (s.status !== 'planning' && s.status !== 'sending') continue;
      try {
        await resumeSend(deps, s.id);
        resumed.push(s.id);
      } catch (e) {
        deps.log?.(`could not resume send ${s.id}`, e);
      }
    }
    // Newest first: an active send is recent (it has a deadline), so older pages hold none.
    const last = page.items[page.items.length - 1];
    if (!page.next || !last || last.createdAt < oldest) return resumed;
    cursor = page.next;
  }
}

export interface Preview extends RenderedEmail {
  articles: { id: string; title: string; url: string }[];
  /** Digest: the recipient's window, articles published after `since` up to `until`. */
  window?: { since: string; until: string } | undefined;
}

const previewCache = new PreparedCache(20);

async function render(deps: DeliveryDeps, req: SendRequest, content: SendContent, to: ReturnType<typeof sampleRecipient>): Promise<Preview> {
  const send = { id: `preview-${newId(deps.clock.now())}`, kind: req.kind, subject: req.subject, intro: req.intro };
  let articles: DigestCandidate[] | undefined;
  if (content.kind === 'confirmation') {
    // nothing to select: everyone pending gets the same request
  } else if (content.kind === 'digest') {
    articles = digestFor(to, content.articles);
    if (articles.length === 0)
      throw new AppError('send.nothingToSend', 'no article was published in this digest\u2019s window (or none matches the topics); nobody would get it');
  } else if (!topicsMatch(to.topics, content.article.tags)) {
    throw new AppError('send.nothingToSend', 'the sample subscriber\u2019s topics do not match this article');
  }
  const prepared = await previewCache.get(deps.renderer, send, content, articles);
  const email = composeEmail(deps, send, prepared, to);
  const list = content.kind === 'digest' ? articles! : content.kind === 'article' ? [content.article] : [];
  const window = content.kind === 'digest' ? { since: digestSince(to), until: content.windowEnd } : undefined;
  return { subject: email.subject, html: email.html, text: email.text, articles: list.map((a) => ({ id: a.id, title: a.title, url: a.url })), window };
}

/** Renders the email for a sample subscriber (or a given one) without sending anything. */
export async function previewSend(deps: DeliveryDeps, req: SendRequest & { subscriberId?: string | undefined }): Promise<Preview> {
  validate(req);
  const draft = newSend(deps, req, 'api');
  // A draft or scheduled article can be previewed before it goes out.
  const content = await buildContent(deps, draft, { draft: true });
  let to = sampleRecipient();
  if (req.subscriberId) {
    const found = (await deps.audience.recipients([[req.subscriberId, '']])).get(req.subscriberId)?.recipient;
    if (!found) throw new AppError('subscriber.notFound', `no subscriber with id ${req.subscriberId}`);
    // What the real send would decide for this person, with the same reason it would record.
    const e = eligibility(draft, content, found, false);
    if (e.kind !== 'send') {
      const window = content.kind === 'digest' ? ` (their window: after ${digestSince(found) || 'their confirmation'} up to ${content.windowEnd})` : '';
      throw new AppError('send.nothingToSend', `subscriber ${req.subscriberId} would not get this send: ${e.code ?? e.kind}, ${e.reason}${window}`);
    }
    to = found;
  }
  return render(deps, req, content, to);
}

/** Sends the email only to the given addresses, now, outside any send (no ledger, no counts). */
export async function testSend(
  deps: DeliveryDeps,
  req: SendRequest & { addresses: string[] },
): Promise<{ results: { address: string; messageId?: string; error?: string }[] }> {
  validate(req);
  // A draft or scheduled article can be test-sent before it goes out.
  const content = await buildContent(deps, newSend(deps, req, 'api'), { draft: true });
  const results: { address: string; messageId?: string; error?: string }[] = [];
  for (const address of req.addresses) {
    const to = { ...sampleRecipient(address), id: 'test' };
    const rendered = await render(deps, req, content, to);
    try {
      await deps.limiter.acquire();
      const { messageId } = await deps.mailer.send({
        ...composeEmail(
          deps,
          { id: 'test', kind: req.kind, subject: req.subject },
          { name: req.kind === 'confirmation' ? 'confirm' : req.kind, personalise: () => rendered },
          to,
        ),
        subject: `[Test] ${rendered.subject}`,
      });
      results.push({ address, messageId });
    } catch (e) {
      results.push({ address, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { results };
}
