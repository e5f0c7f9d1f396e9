import { publishScheduledArticle, type ArticleDeps } from '../core/articles/use-cases.ts';
import { lambdaEntry } from './lambda-entry.ts';

type PublishDeps = Pick<ArticleDeps, 'articles' | 'clock'>;

/**
 * The payload a one-time schedule delivers: `{ articleId }`. Without an id (the recurring sweep, and the
 * local timer) every due article is published, so one whose schedule failed or fired early still goes out.
 */
export interface PublishScheduledEvent {
  articleId?: string | undefined;
}

/** Publishes a scheduled article whose time has come; early or repeated calls change nothing. */
export function createPublishScheduledHandler(deps: PublishDeps | (() => Promise<PublishDeps>)) {
  return async (event: PublishScheduledEvent = {}): Promise<{ published: string[]; skipped: string[] }> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const ids =
      typeof event?.articleId === 'string' ? [event.articleId] : (await resolved.articles.listDue(resolved.clock.now().toISOString(), 100)).map((a) => a.id);
    const out = { published: [] as string[], skipped: [] as string[] };
    for (const id of ids) out[(await publishScheduledArticle(resolved, id)) === 'published' ? 'published' : 'skipped'].push(id);
    return out;
  };
}

/** Lambda entry point: the target of each article's one-time EventBridge schedule. */
export const handler = lambdaEntry(
  'publishScheduled',
  createPublishScheduledHandler(async () => {
    const { articleRepository } = await import('./aws/env.ts');
    const { systemClock } = await import('../core/clock.ts');
    return { articles: articleRepository(), clock: systemClock };
  }),
  (event) => ({ article_id: typeof event?.articleId === 'string' ? event.articleId : undefined }),
);
