/**
 * The subscriber feature assembled the way the composition roots assemble it: `createApp` with the
 * subscriber routers mounted, a fresh table in the run's DynamoDB Local, the local SES endpoint writing
 * .eml files to a temporary outbox, served by @hono/node-server on a free port. Also: SES events
 * shaped as SES publishes them.
 */
import { TEST_SITE } from './site.ts';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { SESClient } from '@aws-sdk/client-ses';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createApp } from '../../lambdas/http/app.ts';
import { StaticApiKeys } from '../../lambdas/core/auth.ts';
import { systemClock, type Clock } from '../../lambdas/core/clock.ts';
import type { SiteConfig } from '../../lambdas/core/site.ts';
import { createEmailRenderer } from '../../lambdas/core/email/templates.ts';
import { formatListId } from '../../lambdas/core/email/message.ts';
import { tagsInUse } from '../../lambdas/core/articles/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { DynamoSubscriberRepository } from '../../lambdas/adapters/dynamodb/subscriber-repository.ts';
import { DynamoRateLimiter } from '../../lambdas/adapters/dynamodb/rate-limiter.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import type { OutboxSidecar } from '../../lambdas/local/outbox-store.ts';
import { parseMessage, type ParsedMessage } from '../../lambdas/local/mime-reader.ts';
import { createTokenSigner, type TokenSigner } from '../../lambdas/core/subscribers/tokens.ts';
import type { SubscriberDeps } from '../../lambdas/core/subscribers/use-cases.ts';
import type { SubscribeLimits } from '../../lambdas/core/subscribers/subscribe-limits.ts';
import { subscriberMounts } from '../../lambdas/http/routes/subscribers.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { requestImportConfirmations } from '../../lambdas/core/sends/use-cases.ts';
import { clientAddressResolver } from '../../lambdas/http/client-address.ts';
import { createPageRenderer } from '../../lambdas/http/pages.ts';

export const HARNESS_API_KEY = 'subscriber-harness-key-0123456789';
export const TOKEN_SECRET = 'harness-token-secret-0123456789abcdef';
export const CONFIG_SETS = { newsletter: 'inkwire-newsletter', transactional: 'inkwire-transactional' };
const templatesRoot = fileURLToPath(new URL('../../templates/', import.meta.url));

export interface HarnessOptions {
  clock?: Clock;
  /** Subscribe limits (default SUBSCRIBE_LIMITS, the deployed ones). */
  limits?: Partial<SubscribeLimits>;
  /** The origin secret, as in AWS: every request without it gets a 403 (the origin check is off without it). */
  originSecret?: string;
  softBounceThreshold?: number;
  trustedProxyHops?: number;
  /** Topics offered (default Politics, Science); `articles`: the tags of published articles, as when SUBSCRIBE_TOPICS is unset. */
  topicChoices?: { slug: string; name: string }[] | 'articles';
  maxImportBytes?: number;
  /** POST /subscribe's least answer time (0 here unless a test is about it). */
  subscribeMinMs?: number;
  /** An existing table (the benchmark brings its own DynamoDB Local); a fresh one in the run's DynamoDB Local otherwise. */
  table?: { doc: DynamoDBDocumentClient; tableName: string };
}

export interface OutboxMail extends ParsedMessage {
  sidecar: OutboxSidecar;
  raw: Buffer;
}

export interface SubscriberHarness {
  url: string;
  apiKey: string;
  tableName: string;
  doc: DynamoDBDocumentClient;
  repo: DynamoSubscriberRepository;
  signer: TokenSigner;
  deps: SubscriberDeps;
  ses: SesEndpoint;
  outboxDir: string;
  /** A publisher API call with the key (JSON when `json` is given). */
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** A form POST (application/x-www-form-urlencoded), redirects not followed. */
  postForm(path: string, fields: Record<string, string | string[]>, headers?: Record<string, string>): Promise<Response>;
  /** Every message in the outbox, oldest first. */
  outbox(): OutboxMail[];
  /** Messages to one address, oldest first. */
  mailTo(address: string): OutboxMail[];
  /** Waits for the n-th message to an address (1-based). */
  waitForMail(address: string, n?: number, timeoutMs?: number): Promise<OutboxMail>;
  stop(): Promise<void>;
}

export async function startSubscriberHarness(options: HarnessOptions = {}): Promise<SubscriberHarness> {
  const clock = options.clock ?? systemClock;
  // Imported lazily: tests/support/dynamo.ts reads vitest's provided context, which a benchmark run lacks.
  const { doc, tableName } = options.table ?? (await (await import('./dynamo.ts')).freshTable('subs'));
  const outboxDir = mkdtempSync(join(tmpdir(), 'inkwire-sub-outbox-'));
  const ses = await startSesEndpoint({ outboxDir, configurationSets: Object.values(CONFIG_SETS) });
  const sesClient = new SESClient({ endpoint: ses.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });

  let appRef: { fetch: (req: Request, env: unknown) => Response | Promise<Response> } = { fetch: () => new Response('starting', { status: 503 }) };
  const { server, port } = await new Promise<{ server: ServerType; port: number }>((res, rej) => {
    const server = serve({ fetch: (req, env) => appRef.fetch(req, env), port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
      res({ server, port: info.port }),
    );
    server.once('error', rej);
  });
  const url = `http://127.0.0.1:${port}`;
  // Its pages are served here, so links in its mail point here.
  const site: SiteConfig = { ...TEST_SITE, publicUrl: url };

  const repo = new DynamoSubscriberRepository(doc, tableName);
  const signer = createTokenSigner(TOKEN_SECRET);
  const log = () => undefined;
  const deps: SubscriberDeps = {
    subscribers: repo,
    mailer: new SesMailer({ client: sesClient, clock }),
    emails: createEmailRenderer({
      templatesDir: join(templatesRoot, 'email'),
      branding: { siteName: site.title, siteUrl: site.siteUrl, postalAddress: 'Thin Line News Ltd, 12 Harbour Street, Bristol BS1 4AB, UK' },
    }),
    signer,
    clock,
    site,
    mail: {
      from: { name: 'Thin Line News', address: 'news@news.example.com' },
      transactionalConfigurationSet: CONFIG_SETS.transactional,
      listId: formatListId(site.title, 'news.example.com'),
      unsubscribeMailbox: 'unsubscribe@news.example.com',
    },
    settings: { defaultFrequency: 'weekly', softBounceThreshold: options.softBounceThreshold ?? 3 },
    // Confirmation sends are created as in the runtimes; this harness runs no delivery engine to send them.
    confirmations: { request: (importId) => requestImportConfirmations({ sends: new DynamoSendRepository(doc, tableName), clock }, importId) },
    log,
  };

  const apiKeys = new StaticApiKeys([HARNESS_API_KEY]);
  const mounts = subscriberMounts({
    subscribers: deps,
    rateLimiter: new DynamoRateLimiter(doc, tableName),
    pages: createPageRenderer({ templatesDir: join(templatesRoot, 'pages'), site: { title: site.title, siteUrl: site.siteUrl, language: site.language } }),
    clientAddress: clientAddressResolver({ trustedProxyHops: options.trustedProxyHops ?? 0, socket: (c) => getConnInfo(c).remote.address }),
    limits: options.limits,
    topicChoices:
      options.topicChoices === 'articles'
        ? () => tagsInUse(new DynamoArticleRepository(doc, tableName))
        : (options.topicChoices ?? [
            { slug: 'politics', name: 'Politics' },
            { slug: 'science', name: 'Science' },
          ]),
    maxImportBytes: options.maxImportBytes,
    subscribeMinMs: options.subscribeMinMs ?? 0,
  });
  const app = createApp({
    articles: {
      articles: new DynamoArticleRepository(doc, tableName),
      scheduler: { schedule: async () => undefined, cancel: async () => undefined },
      clock,
      site,
    },
    apiKeys,
    log,
    mounts,
    origin: options.originSecret ? { load: async () => [options.originSecret!], publicUrl: url } : undefined,
  });

  appRef = app;

  const api = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${HARNESS_API_KEY}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    }
    return fetch(url + path, { ...init, headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
  };
  const postForm = (path: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    return fetch(url + path, { method: 'POST', body, redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  };
  const outbox = (): OutboxMail[] =>
    readdirSync(outboxDir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.eml'))
      .sort((a, b) => a.split('/').pop()!.localeCompare(b.split('/').pop()!))
      .map((f) => {
        const raw = readFileSync(join(outboxDir, f));
        const sidecar = JSON.parse(readFileSync(join(outboxDir, f.replace(/\.eml$/, '.json')), 'utf8')) as OutboxSidecar;
        return Object.assign(parseMessage(raw), { sidecar, raw });
      });
  const mailTo = (address: string) => outbox().filter((m) => m.sidecar.destinations.includes(address));
  const waitForMail = async (address: string, n = 1, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = mailTo(address);
      if (found.length >= n) return found[n - 1]!;
      if (Date.now() > deadline) throw new Error(`no message #${n} to ${address} in the outbox (found ${found.length})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  return {
    url,
    apiKey: HARNESS_API_KEY,
    tableName,
    doc,
    repo,
    signer,
    deps,
    ses,
    outboxDir,
    api,
    postForm,
    outbox,
    mailTo,
    waitForMail,
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      sesClient.destroy();
      await ses.stop();
      rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}

/** The first URL in a text part that starts with `prefix`. */
export function linkIn(text: string | undefined, prefix: string): string {
  const m = new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\\s<>"]*`).exec(text ?? '');
  if (!m) throw new Error(`no link starting with ${prefix} in:\n${text}`);
  return m[0];
}

// ---------------------------------------------------------------------------------------------------
// SES events

function mail(address: string, tags: Record<string, string>) {
  return {
    timestamp: new Date().toISOString(),
    source: 'news@news.example.com',
    messageId: randomUUID(),
    destination: [address],
    tags: Object.fromEntries(Object.entries({ 'ses:configuration-set': CONFIG_SETS.newsletter, ...tags }).map(([k, v]) => [k, [v]])),
  };
}

/** SES configuration-set events, shaped as SES publishes them to SNS. */
export const sesEvents = {
  bounce: (address: string, bounceType: 'Permanent' | 'Transient' | 'Undetermined', tags: Record<string, string> = {}) => ({
    eventType: 'Bounce',
    bounce: {
      bounceType,
      bounceSubType: bounceType === 'Permanent' ? 'General' : 'MailboxFull',
      bouncedRecipients: [{ emailAddress: address, action: 'failed', status: '5.1.1' }],
      timestamp: new Date().toISOString(),
      feedbackId: randomUUID(),
    },
    mail: mail(address, tags),
  }),
  complaint: (address: string, tags: Record<string, string> = {}, complaintFeedbackType = 'abuse') => ({
    eventType: 'Complaint',
    complaint: { complainedRecipients: [{ emailAddress: address }], complaintFeedbackType, timestamp: new Date().toISOString(), feedbackId: randomUUID() },
    mail: mail(address, tags),
  }),
  delivery: (address: string, tags: Record<string, string> = {}) => ({
    eventType: 'Delivery',
    delivery: { recipients: [address], timestamp: new Date().toISOString(), processingTimeMillis: 500, smtpResponse: '250 ok' },
    mail: mail(address, tags),
  }),
  /** SES receiving (receipt rule with an SNS action): a mail to the unsubscribe mailbox. */
  received: (subject: string) => ({
    notificationType: 'Received',
    mail: { source: 'reader@example.org', destination: ['unsubscribe@news.example.com'], commonHeaders: { subject } },
    receipt: { recipients: ['unsubscribe@news.example.com'] },
  }),
};
