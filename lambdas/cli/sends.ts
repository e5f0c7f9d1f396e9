/**
 * `inkwire send` (create, preview or test a digest or an article alert) and `inkwire sends` (list, status
 * with a progress bar, cancel, resume): the send API of `/api/sends` from the command line.
 */
import type { ApiClient } from './api.ts';
import type { CommandContext } from './commands.ts';
import { CliError, UsageError } from './errors.ts';
import { collectPages, limitOption, table } from './pages.ts';

export interface SendCommandContext extends CommandContext {
  sleep(ms: number): Promise<void>;
  writeText(path: string, text: string): Promise<void>;
}

/** A send as the API answers it (`Send` in the API document): the fields shown here. */
export interface SendView {
  id: string;
  kind: string;
  trigger: string;
  status: string;
  reason?: string;
  articleId?: string;
  frequency?: string;
  subject?: string;
  dryRun: boolean;
  createdAt: string;
  completedAt?: string;
  counts: { planned: number; submitted: number; failed: number; suppressed: number; skipped: number; uncertain: number };
  skippedBy?: Record<string, number>;
  reported?: Record<string, number>;
  progress: number;
  rate?: number;
  eta?: string;
  errors: { code: string; count: number; message?: string }[];
  archiveUrl?: string;
}

interface PreviewView {
  subject: string;
  html: string;
  text: string;
  articles: { id: string; title: string; url: string }[];
  window?: { since: string; until: string };
}

const RUNNING = ['pending', 'planning', 'sending'];
const WATCH_INTERVAL_MS = 2000;
const n = (v: number) => v.toLocaleString('en-US');

/** `inkwire send digest|article ...` */
export async function send(ctx: SendCommandContext): Promise<void> {
  const { args } = ctx;
  const [kind, ...rest] = args.positionals;
  if (kind !== 'digest' && kind !== 'article') {
    throw new UsageError(kind === undefined ? 'send needs "digest" or "article <id|slug>"' : `send takes "digest" or "article", not "${kind}"`, 'send');
  }
  const modes = [args.preview && '--preview', args.tests.length > 0 && '--test', args.dryRun && '--dry-run'].filter(Boolean);
  if (modes.length > 1) throw new UsageError(`use one of ${modes.join(', ')}`, 'send');
  if (args.subscriber !== undefined && !args.preview) throw new UsageError('--subscriber goes with --preview (whose mail to render)', 'send');
  if (args.out !== undefined && !args.preview) throw new UsageError('--out goes with --preview (where to write the HTML)', 'send');
  if (args.watch && (args.preview || args.tests.length)) throw new UsageError('--watch follows a real send; a preview or a test has nothing to follow', 'send');

  const req: Record<string, unknown> = { kind };
  if (kind === 'digest') {
    if (rest.length) throw new UsageError(`send digest takes no arguments, got: ${rest.join(' ')}`, 'send');
    const frequency = args.frequency ?? 'weekly';
    if (frequency !== 'daily' && frequency !== 'weekly') throw new UsageError(`a digest's --frequency is daily or weekly, not "${frequency}"`, 'send');
    req.frequency = frequency;
    if (args.intro !== undefined) req.intro = args.intro;
  } else {
    if (rest.length !== 1)
      throw new UsageError(
        rest.length ? `send article takes one article, got ${rest.length}: ${rest.join(' ')}` : 'send article needs an article id or slug',
        'send',
      );
    if (args.intro !== undefined) throw new UsageError('--intro is for digests', 'send');
    req.articleId = await articleId(ctx.api, rest[0]!);
    if (args.frequency !== undefined) {
      if (!['instant', 'daily', 'weekly', 'all'].includes(args.frequency))
        throw new UsageError(`an article's --frequency is instant, daily, weekly or all, not "${args.frequency}"`, 'send');
      req.frequency = args.frequency;
    }
  }
  if (args.tags.length) req.topics = args.tags;
  if (args.subject !== undefined) req.subject = args.subject;

  if (args.preview) return preview(ctx, req);
  if (args.tests.length) return testSend(ctx, { ...req, addresses: args.tests });
  if (args.dryRun) req.dryRun = true;

  const created = (await ctx.api.request<SendView>('POST', '/api/sends', { json: req })).body;
  if (args.json && !args.watch) {
    ctx.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
    return;
  }
  if (!args.json) ctx.stdout.write(`${created.dryRun ? 'Counting the audience of' : 'Sending'} ${created.kind} ${created.id}\n`);
  if (args.watch) return watch(ctx, created.id);
  ctx.stdout.write(`Follow it with: inkwire sends ${created.id} --watch\n`);
}

async function articleId(api: ApiClient, ref: string): Promise<string> {
  if (/^[a-z0-9]+$/.test(ref)) {
    const byId = await api.request<{ id: string }>('GET', `/api/articles/${encodeURIComponent(ref)}`).catch((e: unknown) => {
      if (e instanceof CliError && e.code === 'article.notFound') return undefined;
      throw e;
    });
    if (byId) return byId.body.id;
  }
  const page = (await api.request<{ items: { id: string }[] }>('GET', `/api/articles?${new URLSearchParams({ slug: ref })}`)).body;
  const found = page.items[0];
  if (!found) throw new CliError(`no article with id or slug "${ref}"; "inkwire list" shows them`);
  return found.id;
}

async function subscriberId(api: ApiClient, ref: string): Promise<string> {
  if (!ref.includes('@')) return ref;
  const page = (await api.request<{ items: { id: string }[] }>('GET', `/api/subscribers?${new URLSearchParams({ email: ref })}`)).body;
  const found = page.items[0];
  if (!found) throw new CliError(`no subscriber with the address ${ref}`);
  return found.id;
}

async function preview(ctx: SendCommandContext, req: Record<string, unknown>): Promise<void> {
  if (ctx.args.subscriber !== undefined) req.subscriberId = await subscriberId(ctx.api, ctx.args.subscriber);
  const p = (await ctx.api.request<PreviewView>('POST', '/api/sends/preview', { json: req })).body;
  if (ctx.args.out !== undefined) await ctx.writeText(ctx.args.out, p.html);
  if (ctx.args.json) {
    ctx.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
    return;
  }
  const who = ctx.args.subscriber ? `as ${ctx.args.subscriber} would get it` : 'as a subscriber of every topic would get it';
  const lines = [
    `Preview ${who}${p.window ? `: articles published after ${p.window.since || 'the start'} up to ${p.window.until}` : ''}`,
    `Subject: ${p.subject}`,
  ];
  if (p.articles.length) lines.push(`Articles (${p.articles.length}):`, ...p.articles.map((a) => `  ${a.title}  ${a.url}`));
  if (ctx.args.out !== undefined) lines.push(`HTML written to ${ctx.args.out}`);
  ctx.stdout.write(`${lines.join('\n')}\n\n${p.text.replace(/\n*$/, '\n')}`);
}

async function testSend(ctx: SendCommandContext, req: Record<string, unknown>): Promise<void> {
  const res = (await ctx.api.request<{ results: { address: string; messageId?: string; error?: string }[] }>('POST', '/api/sends/test', { json: req })).body;
  if (ctx.args.json) ctx.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
  else for (const r of res.results) ctx.stdout.write(r.error ? `Not sent to ${r.address}: ${r.error}\n` : `Test sent to ${r.address} (${r.messageId})\n`);
  const failed = res.results.filter((r) => r.error);
  if (failed.length) throw new CliError(`${failed.length} of ${res.results.length} test message(s) were not sent`);
}

/** `inkwire sends [<id> [--watch] | cancel <id> | resume <id>]` */
export async function sends(ctx: SendCommandContext): Promise<void> {
  const { args } = ctx;
  const [first, second, ...more] = args.positionals;
  if (first === undefined) {
    if (args.watch) throw new UsageError('--watch follows one send: inkwire sends <id> --watch', 'sends');
    return listSends(ctx);
  }
  if (args.limit !== undefined) throw new UsageError('--limit is for the list of sends', 'sends');
  if (first === 'cancel' || first === 'resume') {
    if (second === undefined || more.length) throw new UsageError(`sends ${first} takes one send id`, 'sends');
    const s = (await ctx.api.request<SendView>('POST', `/api/sends/${encodeURIComponent(second)}/${first}`)).body;
    if (args.json) ctx.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    else ctx.stdout.write(`${first === 'cancel' ? 'Cancelled' : 'Resumed'} ${s.id}: ${s.status}\n`);
    if (args.watch && first === 'resume') await watch(ctx, s.id);
    return;
  }
  if (second !== undefined) throw new UsageError(`sends takes one send id, got: ${args.positionals.join(' ')}`, 'sends');
  if (args.watch) return watch(ctx, first);
  const s = await getSend(ctx.api, first);
  ctx.stdout.write(args.json ? `${JSON.stringify(s, null, 2)}\n` : statusReport(s));
}

const getSend = async (api: ApiClient, id: string) => (await api.request<SendView>('GET', `/api/sends/${encodeURIComponent(id)}`)).body;

async function listSends(ctx: SendCommandContext): Promise<void> {
  const items = await collectPages<SendView>(ctx.api, '/api/sends', new URLSearchParams(), limitOption(ctx.args.limit, 'sends'), 'sends');
  if (ctx.args.json) {
    ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    return;
  }
  if (!items.length) {
    ctx.stdout.write('No sends.\n');
    return;
  }
  const rows = items.map((s) => [
    s.id,
    s.kind + (s.frequency && s.kind === 'digest' ? ` ${s.frequency}` : ''),
    s.dryRun ? `${s.status} (dry run)` : s.status,
    s.createdAt.slice(0, 16).replace('T', ' '),
    `${Math.round(s.progress * 100)}%`,
    `${n(s.counts.submitted)}/${n(s.counts.planned)}`,
  ]);
  ctx.stdout.write(table(['ID', 'KIND', 'STATUS', 'CREATED', 'DONE', 'SUBMITTED/PLANNED'], rows));
}

/** A bar of `width` cells for a share 0..1. */
export function progressBar(share: number, width = 30): string {
  const full = Math.max(0, Math.min(width, Math.round(share * width)));
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.round(share * 100)).padStart(3)}%`;
}

/** One line while a send runs: the bar, the counts, the rate and when it should be done. */
export function progressLine(s: SendView): string {
  const c = s.counts;
  const parts = [`${progressBar(s.progress)} ${s.status}`, `${n(c.submitted)} submitted`];
  if (c.failed) parts.push(`${n(c.failed)} failed`);
  if (c.uncertain) parts.push(`${n(c.uncertain)} uncertain`);
  if (c.suppressed) parts.push(`${n(c.suppressed)} suppressed`);
  if (c.skipped) parts.push(`${n(c.skipped)} skipped`);
  parts.push(`of ${n(c.planned)}`);
  if (s.rate) parts.push(`${s.rate}/s`);
  if (s.eta) parts.push(`ETA ${s.eta.slice(11, 19)} UTC`);
  return parts.join(', ');
}

/** The whole state of a send: counts, why anyone was skipped, errors and what the provider reported. */
export function statusReport(s: SendView): string {
  const c = s.counts;
  const lines = [
    `${s.id}  ${s.kind}${s.frequency ? ` (${s.frequency})` : ''}${s.dryRun ? ', dry run' : ''}, created ${s.createdAt} by ${s.trigger}`,
    `status:     ${s.status}${s.reason ? ` (${s.reason})` : ''}${s.completedAt ? `, completed ${s.completedAt}` : ''}`,
    `progress:   ${progressBar(s.progress)}${s.rate ? `, ${s.rate}/s` : ''}${s.eta ? `, ETA ${s.eta}` : ''}`,
    `planned ${n(c.planned)}: submitted ${n(c.submitted)}, failed ${n(c.failed)}, uncertain ${n(c.uncertain)}, suppressed ${n(c.suppressed)}, skipped ${n(c.skipped)}`,
  ];
  const skips = Object.entries(s.skippedBy ?? {}).filter(([, v]) => v > 0);
  if (skips.length) lines.push(`skipped:    ${skips.map(([k, v]) => `${k} ${n(v)}`).join(', ')}`);
  const reported = Object.entries(s.reported ?? {}).filter(([, v]) => v > 0);
  if (reported.length) lines.push(`reported:   ${reported.map(([k, v]) => `${k} ${n(v)}`).join(', ')}`);
  for (const e of s.errors) lines.push(`error:      ${e.code} x${n(e.count)}${e.message ? `: ${e.message}` : ''}`);
  if (s.archiveUrl) lines.push(`archive:    ${s.archiveUrl}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Follows a send until it stops running, a progress line each time it moves (redrawn in place on a
 * terminal), then its report. Exits with the report, whatever the outcome: the status says it.
 */
async function watch(ctx: SendCommandContext, id: string): Promise<void> {
  const tty = ctx.stdout.isTTY === true;
  let last = '';
  for (;;) {
    const s = await getSend(ctx.api, id);
    if (!RUNNING.includes(s.status)) {
      if (tty && last) ctx.stdout.write('\n');
      ctx.stdout.write(ctx.args.json ? `${JSON.stringify(s, null, 2)}\n` : statusReport(s));
      return;
    }
    const line = progressLine(s);
    if (line !== last && !ctx.args.json) ctx.stdout.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    last = line;
    await ctx.sleep(WATCH_INTERVAL_MS);
  }
}
