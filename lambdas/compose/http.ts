import type { Context } from 'hono';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SubscriberDeps } from '../core/subscribers/use-cases.ts';
import { DynamoRateLimiter } from '../adapters/dynamodb/rate-limiter.ts';
import { clientAddressResolver } from '../http/client-address.ts';
import { cachedTopicChoices, createPageRenderer, parseTopicChoices } from '../http/pages.ts';
import { DynamoArticleRepository } from '../adapters/dynamodb/article-repository.ts';
import { tagsInUse } from '../core/articles/use-cases.ts';
import { subscriberMounts } from '../http/routes/subscribers.ts';
import { subscriberJobRoutes } from '../http/routes/subscriber-jobs.ts';
import type { SubscriberJobDeps } from '../core/subscribers/jobs.ts';
import type { MailEnv } from '../config.ts';

/** The subscriber routers for `createApp({ mounts })`, assembled from configuration (both composition roots). */
export function subscriberHttp(
  env: MailEnv,
  deps: SubscriberDeps,
  options: {
    db: DynamoDBDocumentClient;
    table: string;
    templatesDir: string;
    socketAddress: (c: Context) => string | undefined;
    /** Import and export jobs (`/api/subscribers/imports`, `/exports`); built on first use. */
    jobs?: SubscriberJobDeps | (() => SubscriberJobDeps | Promise<SubscriberJobDeps>);
  },
) {
  const mounts = subscriberMounts({
    subscribers: deps,
    rateLimiter: new DynamoRateLimiter(options.db, options.table),
    pages: createPageRenderer({ templatesDir: `${options.templatesDir}/pages`, site: { title: deps.site.title, siteUrl: deps.site.siteUrl, language: deps.site.language } }),
    clientAddress: clientAddressResolver({ trustedProxyHops: env.TRUSTED_PROXY_HOPS, socket: options.socketAddress }),
    // The configured list when there is one; else the tags of published articles (read at most once a minute).
    topicChoices: env.SUBSCRIBE_TOPICS?.trim() ? parseTopicChoices(env.SUBSCRIBE_TOPICS) : cachedTopicChoices(() => tagsInUse(new DynamoArticleRepository(options.db, options.table))),
    maxImportBytes: env.MAX_IMPORT_BYTES,
  });
  return options.jobs ? [...mounts, { path: '/api', app: subscriberJobRoutes(options.jobs) }] : mounts;
}
