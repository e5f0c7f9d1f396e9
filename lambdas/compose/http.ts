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
import type { SiteConfig } from '../core/site.ts';
import type { SendQuota } from '../core/email/message.ts';
import type { DocumentReader } from '../core/feeds/ports.ts';
import { subscriberStatsRoutes } from '../http/routes/subscriber-stats.ts';
import { DynamoSubscriberHistory } from '../adapters/dynamodb/subscriber-history.ts';
import { DynamoGrowthMarks } from '../adapters/dynamodb/growth-marks.ts';
import { DynamoSessionRevocations } from '../adapters/dynamodb/console-sessions.ts';
import { consoleRoutes } from '../http/console/routes.ts';
import { checkDns, systemDnsLookup, type ConsoleSettings, type DnsLookup } from '../http/console/settings.ts';

/** What the publisher's console (`/admin`) needs from a composition root beyond the subscriber parts. */
export interface ConsoleOptions {
  /** The publisher API keys in force: sign-in compares against them, and sessions are signed with a key derived from them. */
  keys: () => Promise<string[]>;
  /** The app, called in process for the console's API calls (without the origin check: it never leaves the process). */
  api: (req: Request) => Response | Promise<Response>;
  site: SiteConfig;
  documents?: DocumentReader | undefined;
  quota?: (() => Promise<SendQuota>) | undefined;
  /** The SES region, for the MAIL FROM record the settings page checks. */
  region?: string | undefined;
  dkimTokens?: string[] | undefined;
  dns?: DnsLookup | undefined;
}

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
    /** The publisher's console at `/admin`; absent, it is not served. */
    console?: ConsoleOptions | undefined;
  },
) {
  const rateLimiter = new DynamoRateLimiter(options.db, options.table);
  const clientAddress = clientAddressResolver({ trustedProxyHops: env.TRUSTED_PROXY_HOPS, socket: options.socketAddress });
  // First: its `/subscribers/growth` would otherwise be taken for `/subscribers/{id}`.
  const stats = {
    path: '/api',
    app: subscriberStatsRoutes({
      subscribers: deps.subscribers,
      growth: new DynamoGrowthMarks(options.db, options.table),
      history: new DynamoSubscriberHistory(options.db, options.table),
      clock: deps.clock,
    }),
  };
  const mounts = subscriberMounts({
    subscribers: deps,
    rateLimiter,
    pages: createPageRenderer({
      templatesDir: `${options.templatesDir}/pages`,
      site: { title: deps.site.title, siteUrl: deps.site.siteUrl, language: deps.site.language },
    }),
    clientAddress,
    // The configured list when there is one; else the tags of published articles (read at most once a minute).
    topicChoices: env.SUBSCRIBE_TOPICS?.trim()
      ? parseTopicChoices(env.SUBSCRIBE_TOPICS)
      : cachedTopicChoices(() => tagsInUse(new DynamoArticleRepository(options.db, options.table))),
    maxImportBytes: env.MAX_IMPORT_BYTES,
  });
  const all = [stats, ...mounts, ...(options.jobs ? [{ path: '/api', app: subscriberJobRoutes(options.jobs) }] : [])];
  const c = options.console;
  if (!c) return all;
  const domain = env.MAIL_FROM.split('@')[1]!.toLowerCase();
  const settings = async (): Promise<ConsoleSettings> => {
    const [quota, dns] = await Promise.all([
      c.quota
        ? c.quota().then(
            (q) => ({ quota: q }),
            (e: unknown) => ({ quotaError: e instanceof Error ? e.message : String(e) }),
          )
        : Promise.resolve({ quotaError: 'not available here' }),
      checkDns({ domain, mailFromDomain: `mail.${domain}`, region: c.region, dkimTokens: c.dkimTokens }, c.dns ?? systemDnsLookup()),
    ]);
    return {
      site: [
        { label: 'Title', value: c.site.title },
        { label: 'Site address', value: c.site.siteUrl },
        { label: 'Inkwire address', value: c.site.publicUrl },
        { label: 'Language', value: c.site.language },
        { label: 'Site pages', value: c.site.pages ? 'written by Inkwire' : 'the publisher’s own website' },
        { label: 'Feed entries', value: String(c.site.feedItemLimit) },
      ],
      mail: [
        { label: 'From', value: env.MAIL_FROM_NAME ? `${env.MAIL_FROM_NAME} <${env.MAIL_FROM}>` : env.MAIL_FROM },
        { label: 'Postal address', value: env.POSTAL_ADDRESS },
        { label: 'Newsletter configuration set', value: env.SES_CONFIGURATION_SET_NEWSLETTER },
        { label: 'Transactional configuration set', value: env.SES_CONFIGURATION_SET_TRANSACTIONAL },
        { label: 'Default frequency', value: env.DEFAULT_FREQUENCY },
        { label: 'Soft bounces before suppression', value: String(env.SOFT_BOUNCE_THRESHOLD) },
        { label: 'Unsubscribe mailbox', value: env.UNSUBSCRIBE_MAILBOX ?? 'none' },
      ],
      ...quota,
      dns,
    };
  };
  const admin = consoleRoutes({
    keys: c.keys,
    api: c.api,
    pages: createPageRenderer({
      templatesDir: `${options.templatesDir}/console`,
      site: { title: deps.site.title, siteUrl: deps.site.siteUrl, language: deps.site.language },
    }),
    rateLimiter,
    revocations: new DynamoSessionRevocations(options.db, options.table),
    clientAddress,
    clock: deps.clock,
    site: c.site,
    settings,
    documents: c.documents,
    emails: deps.emails,
    assetsDir: `${options.templatesDir}/console/assets`,
  });
  return [...all, { path: '/', app: admin }];
}
