import { AppError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { SiteConfig } from '../site.ts';
import { newId } from '../ids.ts';
import { withIdempotency, type ClaimIdempotency, type IdempotencyOptions, type Replayable } from '../idempotency.ts';
import { deriveSummary, renderArticleBody } from './content.ts';
import { slugify } from './slug.ts';
import { ARTICLE_LIMITS, toArticleOutput, type Article, type ArticleInput, type ArticlePatch, type ArticleStatus, type Author } from './schema.ts';
import { SlugTaken, StaleArticle, type ArticleEffects, type ArticlePage, type ArticleRepository, type PublishScheduler } from './ports.ts';

export interface ArticleDeps {
  articles: ArticleRepository;
  scheduler: PublishScheduler;
  clock: Clock;
  site: SiteConfig;
}

export type { IdempotencyOptions, Replayable };

const derivedUrl = (site: SiteConfig, slug: string) => `${site.siteUrl}/articles/${slug}/`;

function uniqueTags(names: string[]): Article['tags'] {
  const seen = new Map<string, string>();
  for (const name of names) {
    const slug = slugify(name, 60);
    if (!seen.has(slug)) seen.set(slug, name);
  }
  return [...seen].map(([slug, name]) => ({ name, slug }));
}

function cleanAuthors(authors: Author[]): Author[] {
  return authors.map((a) => ({ name: a.name, ...(a.email ? { email: a.email } : {}), ...(a.url ? { url: a.url } : {}) }));
}

function checkBodySize(body: string): void {
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > ARTICLE_LIMITS.bodyBytes) {
    throw new AppError('request.tooLarge', `body is ${bytes} bytes; an article body may be at most ${ARTICLE_LIMITS.bodyBytes} bytes`, {
      issues: [{ path: 'body', message: `at most ${ARTICLE_LIMITS.bodyBytes} bytes` }],
    });
  }
}

/**
 * The source and its rendered HTML are stored together in one item (DynamoDB's limit is 400 KB), and
 * rendering can grow text (`&` becomes `&amp;`): the limit applies to both together.
 */
function checkStoredSize(body: string, contentHtml: string): void {
  const bytes = Buffer.byteLength(body, 'utf8') + Buffer.byteLength(contentHtml, 'utf8');
  if (bytes > ARTICLE_LIMITS.storedBytes) {
    throw new AppError(
      'request.tooLarge',
      `body renders to ${bytes} bytes of source and HTML together; the limit is ${ARTICLE_LIMITS.storedBytes}: shorten the body`,
      {
        issues: [{ path: 'body', message: `source and rendered HTML together at most ${ARTICLE_LIMITS.storedBytes} bytes` }],
      },
    );
  }
}

/** Works out status, publishAt and publishedAt for a requested status, refusing impossible combinations. */
function resolvePublication(
  status: ArticleStatus,
  publishAt: string | undefined,
  previousPublishedAt: string | undefined,
  now: Date,
): Pick<Article, 'status' | 'publishAt' | 'publishedAt'> {
  const at = publishAt ? new Date(publishAt) : undefined;
  const iso = at?.toISOString();
  if (status === 'scheduled') {
    if (!at)
      throw new AppError('request.invalid', 'a scheduled article needs publishAt', {
        issues: [{ path: 'publishAt', message: 'required when status is scheduled' }],
      });
    if (at.getTime() <= now.getTime()) {
      throw new AppError('request.invalid', 'publishAt must be in the future for a scheduled article; use status "published" to publish now or to backdate', {
        issues: [{ path: 'publishAt', message: 'must be in the future when status is scheduled' }],
      });
    }
    return { status, publishAt: iso, publishedAt: previousPublishedAt };
  }
  if (status === 'published') {
    if (at && at.getTime() > now.getTime()) {
      throw new AppError('request.invalid', 'publishAt is in the future: use status "scheduled" to publish later', {
        issues: [{ path: 'publishAt', message: 'must not be in the future when status is published' }],
      });
    }
    return { status, publishAt: undefined, publishedAt: iso ?? previousPublishedAt ?? now.toISOString() };
  }
  return { status, publishAt: iso, publishedAt: previousPublishedAt };
}

function assemble(
  deps: ArticleDeps,
  base: { id: string; slug: string; createdAt: string; version: number; previousPublishedAt: string | undefined },
  input: {
    title: string;
    body: string;
    bodyFormat: 'markdown' | 'html';
    summary: string | undefined;
    authors: Author[];
    tags: string[];
    url: string | undefined;
    status: ArticleStatus;
    publishAt: string | undefined;
  },
  now: Date,
): Article {
  checkBodySize(input.body);
  const url = input.url ?? derivedUrl(deps.site, base.slug);
  const rendered = renderArticleBody(input.body, input.bodyFormat, url);
  checkStoredSize(rendered.body, rendered.contentHtml);
  const summary = input.summary?.trim() ? input.summary.trim() : deriveSummary(rendered.contentHtml);
  return {
    id: base.id,
    slug: base.slug,
    title: input.title,
    bodyFormat: input.bodyFormat,
    body: rendered.body,
    contentHtml: rendered.contentHtml,
    summary,
    summaryDerived: !input.summary?.trim(),
    authors: cleanAuthors(input.authors),
    tags: uniqueTags(input.tags),
    url,
    urlDerived: input.url === undefined,
    ...resolvePublication(input.status, input.publishAt, base.previousPublishedAt, now),
    createdAt: base.createdAt,
    updatedAt: now.toISOString(),
    version: base.version,
  };
}

/** How recent a first publication must be to alert instant subscribers (an imported archive alerts nobody). */
export const ALERT_WINDOW_MS = 24 * 3600 * 1000;

export const alertSendId = (articleId: string) => `alert-${articleId}`;

/** The effects of going from `prev` to `next`: the first publication of a fresh article alerts subscribers. */
export function effectsOf(prev: Article | undefined, next: Article, now: Date): ArticleEffects {
  if (prev?.publishedAt || next.status !== 'published' || !next.publishedAt) return {};
  if (now.getTime() - new Date(next.publishedAt).getTime() > ALERT_WINDOW_MS) return {};
  return {
    alert: {
      sendId: alertSendId(next.id),
      createdAt: now.toISOString(),
      deadline: new Date(now.getTime() + ALERT_WINDOW_MS).toISOString(),
    },
  };
}

type ArticleOutput = ReturnType<typeof toArticleOutput>;

/** Creates an article; with an Idempotency-Key a repeated request returns the first answer and creates nothing. */
export function createArticle(deps: ArticleDeps, input: ArticleInput, idempotency?: IdempotencyOptions): Promise<Replayable<ArticleOutput>> {
  return withIdempotency(deps.articles, deps.clock, idempotency, (claim) => insertArticle(deps, input, claim));
}

async function insertArticle(deps: ArticleDeps, input: ArticleInput, claim: ClaimIdempotency<ArticleOutput>): Promise<Replayable<ArticleOutput>> {
  const now = deps.clock.now();
  const id = newId(now);
  // A slug the publisher chose is theirs or nothing; a derived one takes the next free `-N`.
  const baseSlug = input.slug ?? slugify(input.title);
  const attempts = input.slug ? 1 : 20;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const slug = attempt === 1 ? baseSlug : `${baseSlug}-${attempt}`;
    const article = assemble(
      deps,
      { id, slug, createdAt: now.toISOString(), version: 1, previousPublishedAt: undefined },
      {
        ...input,
        summary: input.summary,
        url: input.url,
        publishAt: input.publishAt,
      },
      now,
    );
    const output = toArticleOutput(article);
    try {
      await deps.articles.create(article, claim(201, output), effectsOf(undefined, article, now));
    } catch (e) {
      if (e instanceof SlugTaken) {
        if (input.slug)
          throw new AppError(
            'article.slugTaken',
            `the slug "${input.slug}" belongs to another article (or to a deleted one: a URL is never reused); update that article with PUT /api/articles/{id}, or choose another slug`,
          );
        continue;
      }
      throw e;
    }
    if (article.status === 'scheduled' && article.publishAt) await deps.scheduler.schedule(article.id, article.publishAt);
    return { status: 201, body: output, replayed: false };
  }
  throw new AppError('article.conflict', `too many articles share the slug "${baseSlug}"; give this one a different title or an explicit url`);
}

export async function getArticle(deps: Pick<ArticleDeps, 'articles'>, id: string): Promise<Article> {
  const article = await deps.articles.get(id);
  if (!article) throw new AppError('article.notFound', `no article with id ${id}`);
  return article;
}

export function listArticles(
  deps: Pick<ArticleDeps, 'articles'>,
  query: { status?: ArticleStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<ArticlePage> {
  return deps.articles.list(query);
}

function sameContent(a: Article, b: Article): boolean {
  const strip = (x: Article) => ({ ...x, updatedAt: '', version: 0 });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/** Read-modify-write with the version check; a concurrent edit is merged by retrying on the fresh copy. */
async function writeChange(deps: ArticleDeps, id: string, change: (prev: Article, now: Date) => Article): Promise<Article> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const prev = await getArticle(deps, id);
    const now = deps.clock.now();
    const next = change(prev, now);
    if (sameContent(prev, next)) return prev;
    try {
      await deps.articles.update(next, prev, effectsOf(prev, next, now));
    } catch (e) {
      if (e instanceof StaleArticle) continue;
      throw e;
    }
    await syncSchedule(deps, prev, next);
    return next;
  }
  throw new AppError('article.conflict', `article ${id} is being changed by another request; try again`);
}

async function syncSchedule(deps: ArticleDeps, prev: Article, next: Article): Promise<void> {
  const wasScheduled = prev.status === 'scheduled' ? prev.publishAt : undefined;
  const isScheduled = next.status === 'scheduled' ? next.publishAt : undefined;
  if (isScheduled && isScheduled !== wasScheduled) await deps.scheduler.schedule(next.id, isScheduled);
  else if (!isScheduled && wasScheduled) await deps.scheduler.cancel(next.id);
}

/** The live article that claimed this slug, if any. */
export async function articleBySlug(deps: Pick<ArticleDeps, 'articles'>, slug: string): Promise<Article | undefined> {
  const id = await deps.articles.slugOwner(slug);
  return id === undefined ? undefined : deps.articles.get(id);
}

/** PUT: replaces every field; omitted optional fields take their defaults (summary and URL are derived). */
export function replaceArticle(deps: ArticleDeps, id: string, input: ArticleInput): Promise<Article> {
  return writeChange(deps, id, (prev, now) => {
    if (input.slug !== undefined && input.slug !== prev.slug) {
      throw new AppError('request.invalid', `slug is fixed at creation: this article's is "${prev.slug}", the request says "${input.slug}"`, {
        issues: [{ path: 'slug', message: `must be "${prev.slug}" or absent (a slug never changes), got "${input.slug}"` }],
      });
    }
    return assemble(
      deps,
      { id, slug: prev.slug, createdAt: prev.createdAt, version: prev.version + 1, previousPublishedAt: prev.publishedAt },
      { ...input, summary: input.summary, url: input.url, publishAt: input.publishAt },
      now,
    );
  });
}

/** PATCH: changes only the fields sent; `null` clears summary/url/publishAt back to derived or none. */
export function patchArticle(deps: ArticleDeps, id: string, patch: ArticlePatch): Promise<Article> {
  return writeChange(deps, id, (prev, now) => {
    const status = patch.status ?? prev.status;
    let publishAt: string | undefined;
    if (patch.publishAt !== undefined) publishAt = patch.publishAt ?? undefined;
    else if (status === 'scheduled') publishAt = prev.publishAt;
    return assemble(
      deps,
      { id, slug: prev.slug, createdAt: prev.createdAt, version: prev.version + 1, previousPublishedAt: prev.publishedAt },
      {
        title: patch.title ?? prev.title,
        body: patch.body ?? prev.body,
        bodyFormat: patch.bodyFormat ?? prev.bodyFormat,
        summary: patch.summary === null ? undefined : (patch.summary ?? (prev.summaryDerived ? undefined : prev.summary)),
        authors: patch.authors ?? prev.authors,
        tags: patch.tags ?? prev.tags.map((t) => t.name),
        url: patch.url === null ? undefined : (patch.url ?? (prev.urlDerived ? undefined : prev.url)),
        status,
        publishAt,
      },
      now,
    );
  });
}

export async function deleteArticle(deps: ArticleDeps, id: string): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const prev = await getArticle(deps, id);
    try {
      await deps.articles.delete(prev);
    } catch (e) {
      if (e instanceof StaleArticle) continue;
      throw e;
    }
    if (prev.status === 'scheduled') await deps.scheduler.cancel(id);
    return;
  }
  throw new AppError('article.conflict', `article ${id} is being changed by another request; try again`);
}

/**
 * Publishes a scheduled article whose time has come. Safe to call twice or early: an article that is no
 * longer scheduled, or not yet due, is left alone. Its publication date is the scheduled time.
 */
export async function publishScheduledArticle(deps: Pick<ArticleDeps, 'articles' | 'clock'>, id: string): Promise<'published' | 'skipped'> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const prev = await deps.articles.get(id);
    const now = deps.clock.now();
    if (prev?.status !== 'scheduled' || !prev.publishAt || new Date(prev.publishAt).getTime() > now.getTime()) return 'skipped';
    const next: Article = {
      ...prev,
      status: 'published',
      // A scheduled article goes public at its scheduled time, even if it had been published before.
      publishedAt: prev.publishAt,
      publishAt: undefined,
      updatedAt: now.toISOString(),
      version: prev.version + 1,
    };
    try {
      await deps.articles.update(next, prev, effectsOf(prev, next, now));
      return 'published';
    } catch (e) {
      if (e instanceof StaleArticle) continue;
      throw e;
    }
  }
  return 'skipped';
}

/**
 * The tags of published articles, each once (named as on its newest article), sorted by name: the topics a
 * reader can follow. Reads the article list page by page, at most `maxArticles` articles.
 */
export async function tagsInUse(repo: Pick<ArticleRepository, 'list'>, maxArticles = 5000): Promise<{ slug: string; name: string }[]> {
  const tags = new Map<string, string>();
  let cursor: string | undefined;
  let read = 0;
  do {
    const page = await repo.list({ status: 'published', limit: 100, cursor });
    for (const a of page.items) for (const t of a.tags) if (!tags.has(t.slug)) tags.set(t.slug, t.name);
    read += page.items.length;
    cursor = page.next ?? undefined;
  } while (cursor && read < maxArticles);
  return [...tags].map(([slug, name]) => ({ slug, name })).sort((a, b) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }));
}
