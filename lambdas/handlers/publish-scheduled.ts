import { publishScheduledArticle, type ArticleDeps } from '../core/articles/use-cases.ts';

type PublishDeps = Pick<ArticleDeps, 'articles' | 'clock'>;

/** The payload an EventBridge Scheduler one-time schedule delivers (and the local timer sends). */
export interface PublishScheduledEvent {
  articleId: string;
}

/** Publishes a scheduled article whose time has come; early or repeated calls change nothing. */
export function createPublishScheduledHandler(deps: PublishDeps | (() => Promise<PublishDeps>)) {
  return async (event: PublishScheduledEvent): Promise<{ articleId: string; result: 'published' | 'skipped' }> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    if (!event || typeof event.articleId !== 'string') throw new Error('event must be { "articleId": "<id>" }');
    return { articleId: event.articleId, result: await publishScheduledArticle(resolved, event.articleId) };
  };
}

/** Lambda entry point: the target of each article's one-time EventBridge schedule. */
export const handler = createPublishScheduledHandler(async () => {
  const { articleRepository } = await import('./aws/env.ts');
  const { systemClock } = await import('../core/clock.ts');
  return { articles: articleRepository(), clock: systemClock };
});
