import { createHash } from 'node:crypto';
import type { ApiClient } from './api.ts';
import type { ParsedArgs } from './args.ts';
import { fileKind, parseAuthor, readDocument, slugFromPath, type ArticleDocument } from './documents.ts';
import { CliError, UsageError } from './errors.ts';
import { collectPages, limitOption, table } from './pages.ts';

export interface Output {
  write(chunk: string): unknown;
  /** A terminal: progress is redrawn in place. */
  isTTY?: boolean;
}

export interface CommandContext {
  args: ParsedArgs;
  api: ApiClient;
  stdout: Output;
  stderr: Output;
  readFile: (path: string) => Promise<string>;
}

/** The body of `POST /api/articles`: what the file says (the slug from its front matter, else its name), settled. */
export interface CreateArticleRequest extends Pick<ArticleDocument, 'body' | 'bodyFormat' | 'summary' | 'authors' | 'tags' | 'url' | 'slug'> {
  title: string;
  status: 'draft' | 'published' | 'scheduled';
  publishAt?: string;
}

/** Which article a file is: the one with this id (front matter `id:`), else the one with this slug. */
export interface FileIdentity {
  id?: string | undefined;
  slug: string;
}

/** The fields of an article the CLI shows. */
export interface ArticleSummary {
  id: string;
  slug?: string;
  title: string;
  url: string;
  status: string;
  version?: number;
  summary?: string;
  body?: string;
  bodyFormat?: string;
  tags?: { name: string; slug: string }[];
  authors?: { name: string; email?: string; url?: string }[];
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
  if (args.positionals.length > 1)
    throw new UsageError(`${command} takes one ${what.replace(/^(a|an) /, '')}, got ${args.positionals.length}: ${args.positionals.join(' ')}`, command);
  return args.positionals[0]!;
}

export async function buildPublishRequest(
  args: ParsedArgs,
  readFile: (path: string) => Promise<string>,
  warn: (message: string) => void,
): Promise<CreateArticleRequest & { identity: FileIdentity }> {
  const path = onlyPositional(args, 'publish', 'a file (.md, .html or .txt)');
  fileKind(path); // refuses unknown extensions before touching the disk
  if (args.draft && args.schedule !== undefined) throw new UsageError('use either --draft or --schedule, not both', 'publish');
  const scheduleAt = scheduleOption(args, 'publish');
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
  const identity: FileIdentity = { id: doc.id, slug: doc.slug ?? slugFromPath(path) };
  return { ...req, identity };
}

function scheduleOption(args: ParsedArgs, command: string): string | undefined {
  if (args.schedule === undefined) return undefined;
  const t = new Date(args.schedule);
  if (!/^\d{4}-\d{2}-\d{2}/.test(args.schedule) || Number.isNaN(t.getTime())) {
    throw new UsageError(`--schedule "${args.schedule}" is not an ISO date-time; use e.g. 2024-03-01T09:00:00Z`, command);
  }
  return t.toISOString();
}

/** The live article with this slug, or none. */
async function articleWithSlug(api: ApiClient, slug: string): Promise<ArticleSummary | undefined> {
  const res = await api.request<{ items?: ArticleSummary[] }>('GET', `/api/articles?slug=${encodeURIComponent(slug)}`);
  return res.body?.items?.[0];
}

/** An article named by id or slug, as the publisher types it. */
async function findArticle(api: ApiClient, ref: string): Promise<ArticleSummary> {
  if (/^[a-z0-9]+$/.test(ref)) {
    // An id and a one-word slug look alike: try the id first, then the slug.
    const byId = await api.request<ArticleSummary>('GET', `/api/articles/${encodeURIComponent(ref)}`).catch((e: unknown) => {
      if (e instanceof CliError && e.code === 'article.notFound') return undefined;
      throw e;
    });
    if (byId) return byId.body;
  }
  const bySlug = /^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(ref) ? await articleWithSlug(api, ref) : undefined;
  if (!bySlug) throw new CliError(`no article with id or slug "${ref}"; "inkwire list" shows them`, [], 'article.notFound');
  return bySlug;
}

/**
 * Publishes a file, or updates the article it published before: the file's identity (front matter `id`,
 * else its slug) finds that article, so editing a file and publishing it again changes the story in
 * place instead of adding a second one.
 */
export async function publish(ctx: CommandContext): Promise<void> {
  const { identity, ...req } = await buildPublishRequest(ctx.args, ctx.readFile, (w) => ctx.stderr.write(`inkwire: warning: ${w}\n`));
  let existing: ArticleSummary | undefined;
  if (identity.id !== undefined) {
    existing = (
      await ctx.api.request<ArticleSummary>('GET', `/api/articles/${encodeURIComponent(identity.id)}`).catch((e: unknown) => {
        if (e instanceof CliError && e.code === 'article.notFound')
          throw new CliError(`${ctx.args.positionals[0]} names article ${identity.id} in its front matter, and there is no such article`);
        throw e;
      })
    ).body;
  } else existing = await articleWithSlug(ctx.api, identity.slug);

  if (!existing) {
    const body = JSON.stringify({ ...req, slug: identity.slug });
    try {
      const res = await ctx.api.request<ArticleSummary>('POST', '/api/articles', { body, headers: { 'idempotency-key': idempotencyKey(body) } });
      if (res.headers.get('idempotent-replayed') === 'true') {
        ctx.stderr.write('inkwire: this exact request was sent before; nothing new was created, here is the article it made\n');
      }
      return report(ctx, res.body, req.status === 'published' ? 'Published' : undefined, req.publishAt);
    } catch (e) {
      // Someone published the same file a moment ago: update what they made.
      if (!(e instanceof CliError && e.code === 'article.slugTaken')) throw e;
      existing = await articleWithSlug(ctx.api, identity.slug);
      if (!existing) throw e;
    }
  }

  const res = await ctx.api.request<ArticleSummary>('PUT', `/api/articles/${encodeURIComponent(existing.id)}`, { json: req });
  const unchanged = res.body.version !== undefined && res.body.version === existing.version;
  return report(ctx, res.body, unchanged ? 'Unchanged' : 'Updated', req.publishAt);
}

function report(ctx: CommandContext, article: ArticleSummary, verb: 'Published' | 'Updated' | 'Unchanged' | undefined, publishAt: string | undefined): void {
  if (ctx.args.json) {
    ctx.stdout.write(`${JSON.stringify(article, null, 2)}\n`);
    return;
  }
  const state = article.status === 'scheduled' ? `scheduled for ${article.publishAt ?? publishAt}` : article.status === 'draft' ? 'a draft' : 'published';
  let what: string;
  if (verb === 'Updated') what = `Updated ${article.id} (${state})`;
  else if (verb === 'Unchanged') what = `Unchanged ${article.id} (${state}): the file says what the article already says`;
  else if (article.status === 'scheduled') what = `Scheduled ${article.id} for ${article.publishAt ?? publishAt}`;
  else if (article.status === 'draft') what = `Saved draft ${article.id}`;
  else what = `Published ${article.id}`;
  ctx.stdout.write(`${what}\n${article.url}\n`);
}

/** `inkwire show`: one article, its fields and its text. */
export async function show(ctx: CommandContext): Promise<void> {
  const ref = onlyPositional(ctx.args, 'show', 'an article id or slug');
  const a = await findArticle(ctx.api, ref);
  if (ctx.args.json) {
    ctx.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
    return;
  }
  const rows: [string, string | undefined][] = [
    ['id', a.id],
    ['slug', a.slug],
    ['title', a.title],
    ['status', a.status],
    ['url', a.url],
    ['published', a.publishedAt],
    ['scheduled', a.status === 'scheduled' ? a.publishAt : undefined],
    ['updated', a.updatedAt],
    ['tags', a.tags?.map((t) => t.name).join(', ') || undefined],
    ['authors', a.authors?.map((p) => (p.email ? `${p.name} <${p.email}>` : p.name)).join(', ') || undefined],
    ['summary', a.summary],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const head = rows.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`);
  ctx.stdout.write(`${head.join('\n')}\n${ctx.args.text && a.body !== undefined ? `\n${a.body.replace(/\n*$/, '\n')}` : ''}`);
}

/** `inkwire edit`: changes the fields given on the command line, nothing else. */
export async function edit(ctx: CommandContext): Promise<void> {
  const { args } = ctx;
  const ref = onlyPositional(args, 'edit', 'an article id or slug');
  if (args.draft && args.schedule !== undefined) throw new UsageError('use either --draft or --schedule, not both', 'edit');
  if (args.draft && args.publish) throw new UsageError('use either --draft or --publish, not both', 'edit');
  const patch: Record<string, unknown> = {};
  if (args.title !== undefined) patch.title = args.title;
  if (args.summary !== undefined) patch.summary = args.summary === '' ? null : args.summary;
  if (args.url !== undefined) patch.url = args.url === '' ? null : args.url;
  if (args.tags.length) patch.tags = args.tags.filter((t) => t !== '');
  if (args.authors.length) patch.authors = args.authors.filter((a) => a !== '').map(parseAuthor);
  if (args.body !== undefined) {
    const doc = readDocument(
      args.body,
      await ctx.readFile(args.body).catch((e: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${args.body}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
      }),
    );
    patch.body = doc.body;
    patch.bodyFormat = doc.bodyFormat;
  }
  const scheduleAt = scheduleOption(args, 'edit');
  if (scheduleAt !== undefined) Object.assign(patch, { status: 'scheduled', publishAt: scheduleAt });
  if (args.draft) patch.status = 'draft';
  if (args.publish) patch.status = 'published';
  if (Object.keys(patch).length === 0) {
    throw new UsageError('nothing to change: give at least one of --title, --summary, --url, --tag, --author, --body, --draft, --publish, --schedule', 'edit');
  }
  const article = await findArticle(ctx.api, ref);
  const res = await ctx.api.request<ArticleSummary>('PATCH', `/api/articles/${encodeURIComponent(article.id)}`, { json: patch });
  const unchanged = res.body.version !== undefined && res.body.version === article.version;
  report(ctx, res.body, unchanged ? 'Unchanged' : 'Updated', undefined);
}

export async function list(ctx: CommandContext): Promise<void> {
  const { args } = ctx;
  if (args.positionals.length) throw new UsageError(`list takes no arguments, got: ${args.positionals.join(' ')}`, 'list');
  if (args.status !== undefined && !(STATUSES as readonly string[]).includes(args.status)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}, not "${args.status}"`, 'list');
  }
  const limit = limitOption(args.limit, 'list');
  const q = new URLSearchParams();
  if (args.status) q.set('status', args.status);
  const items = await collectPages<ArticleSummary>(ctx.api, '/api/articles', q, limit, 'articles');

  if (args.json) {
    ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    return;
  }
  if (!items.length) {
    ctx.stdout.write(args.status ? `No ${args.status} articles.\n` : 'No articles.\n');
    return;
  }
  ctx.stdout.write(
    table(
      ['ID', 'STATUS', 'DATE', 'TITLE'],
      items.map((a) => [a.id, a.status, shownDate(a), a.title]),
    ),
  );
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
