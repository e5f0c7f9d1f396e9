import { createHash } from 'node:crypto';
import { ApiClient } from './api.ts';
import type { ParsedArgs } from './args.ts';
import { fileKind, parseAuthor, readDocument, type AuthorInput, type BodyFormat } from './documents.ts';
import { CliError, UsageError } from './errors.ts';

export interface Output {
  write(chunk: string): unknown;
}

export interface CommandContext {
  args: ParsedArgs;
  api: ApiClient;
  stdout: Output;
  stderr: Output;
  readFile: (path: string) => Promise<string>;
}

/** The body of `POST /api/articles`. */
export interface CreateArticleRequest {
  title: string;
  body: string;
  bodyFormat: BodyFormat;
  summary?: string;
  authors?: AuthorInput[];
  tags?: string[];
  url?: string;
  status: 'draft' | 'published' | 'scheduled';
  publishAt?: string;
}

/** The fields of an article the CLI shows. */
interface ArticleSummary {
  id: string;
  title: string;
  url: string;
  status: string;
  publishAt?: string;
  publishedAt?: string;
  createdAt?: string;
  updatedAt?: string;
}

const STATUSES = ['draft', 'published', 'scheduled'] as const;

/** The same request always gets the same key, so running a command again never creates a second article. */
export function idempotencyKey(requestBody: string): string {
  return `inkwire-cli-${createHash('sha256').update(requestBody).digest('hex')}`;
}

function onlyPositional(args: ParsedArgs, command: string, what: string): string {
  if (args.positionals.length === 0) throw new UsageError(`${command} needs ${what}`, command);
  if (args.positionals.length > 1) throw new UsageError(`${command} takes one ${what.replace(/^(a|an) /, '')}, got ${args.positionals.length}: ${args.positionals.join(' ')}`, command);
  return args.positionals[0]!;
}

export async function buildPublishRequest(args: ParsedArgs, readFile: (path: string) => Promise<string>, warn: (message: string) => void): Promise<CreateArticleRequest> {
  const path = onlyPositional(args, 'publish', 'a file (.md, .html or .txt)');
  fileKind(path); // refuses unknown extensions before touching the disk
  if (args.draft && args.schedule !== undefined) throw new UsageError('use either --draft or --schedule, not both', 'publish');
  let scheduleAt: string | undefined;
  if (args.schedule !== undefined) {
    const t = new Date(args.schedule);
    if (!/^\d{4}-\d{2}-\d{2}/.test(args.schedule) || Number.isNaN(t.getTime())) {
      throw new UsageError(`--schedule "${args.schedule}" is not an ISO date-time; use e.g. 2024-03-01T09:00:00Z`, 'publish');
    }
    scheduleAt = t.toISOString();
  }
  const authors = args.authors.length ? args.authors.map(parseAuthor) : undefined;

  let content: string;
  try {
    content = await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : (e.message ?? String(err));
    throw new CliError(`cannot read ${path}: ${reason}`);
  }
  const doc = readDocument(path, content);
  for (const w of doc.warnings) warn(w);

  const title = (args.title ?? doc.title)?.trim();
  if (!title) throw new UsageError(`${path} has no title; pass --title "..."`, 'publish');
  if (!doc.body.trim()) throw new CliError(`${path} has no article text after the title`);

  const req: CreateArticleRequest = { title, body: doc.body, bodyFormat: doc.bodyFormat, status: 'published' };
  const summary = args.summary ?? doc.summary;
  if (summary !== undefined) req.summary = summary;
  const chosenAuthors = authors ?? doc.authors;
  if (chosenAuthors?.length) req.authors = chosenAuthors;
  const tags = args.tags.length ? args.tags : doc.tags;
  if (tags?.length) req.tags = tags;
  const url = args.url ?? doc.url;
  if (url !== undefined) req.url = url;

  if (scheduleAt !== undefined) {
    req.status = 'scheduled';
    req.publishAt = scheduleAt;
  } else {
    if (args.draft || doc.draft) req.status = 'draft';
    // The date in the file is the publication date to show (imports of an archive keep their dates).
    if (doc.date !== undefined) req.publishAt = doc.date;
  }
  return req;
}

export async function publish(ctx: CommandContext): Promise<void> {
  const req = await buildPublishRequest(ctx.args, ctx.readFile, (w) => ctx.stderr.write(`inkwire: warning: ${w}\n`));
  const body = JSON.stringify(req);
  const res = await ctx.api.request<ArticleSummary>('POST', '/api/articles', { body, headers: { 'idempotency-key': idempotencyKey(body) } });
  const article = res.body;
  if (res.headers.get('idempotent-replayed') === 'true') {
    ctx.stderr.write('inkwire: this exact request was sent before; nothing new was created, here is the article it made\n');
  }
  if (ctx.args.json) {
    ctx.stdout.write(`${JSON.stringify(article, null, 2)}\n`);
    return;
  }
  const what = article.status === 'scheduled' ? `Scheduled ${article.id} for ${article.publishAt ?? req.publishAt}` : article.status === 'draft' ? `Saved draft ${article.id}` : `Published ${article.id}`;
  ctx.stdout.write(`${what}\n${article.url}\n`);
}

export async function list(ctx: CommandContext): Promise<void> {
  const { args } = ctx;
  if (args.positionals.length) throw new UsageError(`list takes no arguments, got: ${args.positionals.join(' ')}`, 'list');
  if (args.status !== undefined && !(STATUSES as readonly string[]).includes(args.status)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}, not "${args.status}"`, 'list');
  }
  let limit = Infinity;
  if (args.limit !== undefined) {
    if (!/^\d+$/.test(args.limit) || Number(args.limit) < 1) throw new UsageError(`--limit must be a whole number of at least 1, not "${args.limit}"`, 'list');
    limit = Number(args.limit);
  }

  const items: ArticleSummary[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams();
    if (args.status) q.set('status', args.status);
    q.set('limit', String(Math.min(100, limit - items.length)));
    if (cursor) q.set('cursor', cursor);
    const res: { body: { items?: ArticleSummary[]; next?: string | null } } = await ctx.api.request('GET', `/api/articles?${q}`);
    const page = res.body;
    if (!page || !Array.isArray(page.items)) throw new CliError('the API answered the list request with something that is not a page of articles');
    items.push(...page.items.slice(0, limit - items.length));
    cursor = page.next ?? null;
    if (cursor !== null) {
      if (seen.has(cursor)) throw new CliError('the API returned the same page cursor twice; stopping');
      seen.add(cursor);
    }
  } while (cursor !== null && items.length < limit);

  if (args.json) {
    ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    return;
  }
  if (!items.length) {
    ctx.stdout.write(args.status ? `No ${args.status} articles.\n` : 'No articles.\n');
    return;
  }
  const rows = items.map((a) => [a.id, a.status, shownDate(a), a.title]);
  const header = ['ID', 'STATUS', 'DATE', 'TITLE'];
  const widths = [0, 1, 2].map((i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ')}`.trimEnd();
  ctx.stdout.write(`${[header, ...rows].map(line).join('\n')}\n`);
}

function shownDate(a: ArticleSummary): string {
  const d = a.status === 'scheduled' ? a.publishAt : (a.publishedAt ?? a.updatedAt ?? a.createdAt);
  return d ? d.slice(0, 16).replace('T', ' ') : '-';
}

export async function unpublish(ctx: CommandContext): Promise<void> {
  const id = onlyPositional(ctx.args, 'unpublish', 'an article id');
  const res = await ctx.api.request<ArticleSummary>('PATCH', `/api/articles/${encodeURIComponent(id)}`, { json: { status: 'draft' } });
  if (ctx.args.json) ctx.stdout.write(`${JSON.stringify(res.body, null, 2)}\n`);
  else ctx.stdout.write(`Unpublished ${id}; it is a draft now and no longer in any feed.\n`);
}

export async function remove(ctx: CommandContext): Promise<void> {
  const id = onlyPositional(ctx.args, 'delete', 'an article id');
  await ctx.api.request('DELETE', `/api/articles/${encodeURIComponent(id)}`);
  ctx.stdout.write(`Deleted ${id}.\n`);
}
