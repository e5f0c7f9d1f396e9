import type { IdempotencyClaim, IdempotencyRecord } from '../idempotency.ts';
import type { Article, ArticleStatus } from './schema.ts';

export interface ArticlePage {
  items: Article[];
  next: string | null;
}

/**
 * Side effects written in the same transaction as an article change. `alert`: the article's first
 * publication creates the instant-alert Send (once: its id is derived from the article's).
 */
export interface ArticleEffects {
  alert?: { sendId: string; createdAt: string; deadline: string } | undefined;
}

/** Where articles live. Every write is conditional on the version read, so no edit is lost. */
export interface ArticleRepository {
  get(id: string): Promise<Article | undefined>;
  /** The id of the article that claimed this slug (claims outlive deletion: a URL is never reused). */
  slugOwner(slug: string): Promise<string | undefined>;
  /**
   * Writes a new article (and its feed entries when published) in one transaction, claiming its slug.
   * @throws SlugTaken when the slug is already claimed; IdempotencyConflict when `idempotency` exists.
   */
  create(article: Article, idempotency?: IdempotencyClaim, effects?: ArticleEffects): Promise<void>;
  /** Replaces `prev` with `next` (same id) when `prev.version` is still current. @throws StaleArticle */
  update(next: Article, prev: Article, effects?: ArticleEffects): Promise<void>;
  /** Deletes the article and its feed entries when `prev.version` is still current. @throws StaleArticle */
  delete(prev: Article): Promise<void>;
  list(query: { status?: ArticleStatus | undefined; limit: number; cursor?: string | undefined }): Promise<ArticlePage>;
  /** Scheduled articles whose `publishAt` is at or before `now`, oldest first. */
  listDue(now: string, limit: number): Promise<Article[]>;
  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
}

/** Starts the clock on a scheduled article (EventBridge Scheduler in AWS; the local runtime polls instead). */
export interface PublishScheduler {
  schedule(articleId: string, at: string): Promise<void>;
  cancel(articleId: string): Promise<void>;
}

export class SlugTaken extends Error {
  constructor(readonly slug: string) {
    super(`slug ${slug} is taken`);
    this.name = 'SlugTaken';
  }
}

export class StaleArticle extends Error {
  constructor(readonly id: string) {
    super(`article ${id} changed since it was read`);
    this.name = 'StaleArticle';
  }
}
