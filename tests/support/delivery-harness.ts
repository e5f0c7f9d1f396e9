/**
 * The local delivery pipeline, composed as the local runtime composes it (DynamoDB Local, the local SES
 * endpoint through the real SESClient and SesMailer, the in-process queue, the stream poller running the
 * send planner), for integration tests, the fault test's child process and the benchmark.
 *
 * Run directly (`tsx tests/support/delivery-harness.ts`) it is the fault test's sending process: it reads
 * its configuration from the INKWIRE_PIPELINE environment variable (JSON), re-drives the sends it finds
 * active, and runs until killed.
 */
import { TEST_SITE } from './site.ts';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SESClient } from '@aws-sdk/client-ses';
import { createArticle, type ArticleDeps } from '../../lambdas/core/articles/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { systemClock, systemTime, type Clock, type TimeSource } from '../../lambdas/core/clock.ts';
import type { SiteConfig } from '../../lambdas/core/site.ts';
import { formatListId, type Mailer } from '../../lambdas/core/email/message.ts';
import { appendFileSync } from 'node:fs';
import { createEmailRenderer } from '../../lambdas/core/email/templates.ts';
import { createTokenSigner } from '../../lambdas/core/subscribers/tokens.ts';
import { confirmationLink, subscriberLinks } from '../../lambdas/core/subscribers/links.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import type { DeliveryDeps, DeliverySettings } from '../../lambdas/core/sends/deps.ts';
import { unlimited } from '../../lambdas/core/sends/pacing.ts';
import type { Send } from '../../lambdas/core/sends/model.ts';
import { SendEnvSchema } from '../../lambdas/core/sends/settings.ts';
import { resumeActiveSends } from '../../lambdas/core/sends/use-cases.ts';
import { deliveryDeps, planningDeps, type MailingParts, type SendingBase } from '../../lambdas/compose/sending.ts';
import { deploymentLimits, type DeploymentLimits } from '../../infra/limits.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';
import { TABLE_SCHEMA } from '../../lambdas/adapters/dynamodb/table-schema.ts';
import { batchWriteAll } from '../../lambdas/adapters/dynamodb/batch.ts';
import { FsDocumentStore } from '../../lambdas/adapters/local/fs-document-store.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { createSendPlannerHandler } from '../../lambdas/handlers/send-planner.ts';
import { createSendWorkerHandler } from '../../lambdas/handlers/send-worker.ts';
import { createSendDeadLetterHandler } from '../../lambdas/handlers/send-dead-letter.ts';
import { SEND_PLANNER_FILTER } from '../../lambdas/handlers/stream-filters.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { StreamPoller, streamConsumerOptionsFrom } from '../../lambdas/local/stream-poller.ts';
import { InProcessQueue, queueOptionsFrom } from '../../lambdas/local/queue.ts';
import { killable } from '../../lambdas/local/lambda-emulation.ts';

export { TEST_SITE };

export interface PipelineOptions {
  dynamoEndpoint: string;
  tableName: string;
  sesUrl: string;
  /** Holds the planner's stream checkpoint and the archive documents. */
  dataDir: string;
  /** The account's MaxSendRate: the deployment limits follow from it. Unpaced (a benchmark of the pipeline's own cost) when absent. */
  maxSendRate?: number | undefined;
  /** The limits to run under; `deploymentLimits(maxSendRate ?? 14)` by default, as a deployment at that rate has. */
  limits?: DeploymentLimits | undefined;
  /** Test override: worker calls at once (the queue's maximum concurrency). */
  workers?: number | undefined;
  /** Test override: provider calls in flight per worker. */
  inFlight?: number | undefined;
  /** Test override: the queue's visibility timeout, in ms. */
  visibilityTimeoutMs?: number | undefined;
  settings?: Partial<DeliverySettings> | undefined;
  /** The time everything runs on (queue, planner, pacing, the engine's clock): a ScaledTime runs it all faster. */
  time?: TimeSource | undefined;
  /** The engine's clock only (a FixedClock to test deadlines); `time` when absent. */
  clock?: Clock | undefined;
  /** Counts every DynamoDB request and the capacity it consumed. */
  counter?: RequestCounter | undefined;
  /**
   * A file to which each recipient's address is appended, synchronously, right before the provider is
   * called for it: what a process killed with SIGKILL had started, read back by the fault test.
   */
  callLog?: string | undefined;
  log?: ((msg: string, detail?: unknown) => void) | undefined;
}

export interface Pipeline {
  /** Planning and delivery deps as one worker instance has them (for use cases a test calls directly). */
  deps: DeliveryDeps;
  limits: DeploymentLimits;
  queue: InProcessQueue;
  planner: StreamPoller;
  doc: DynamoDBDocumentClient;
  /** Resolves when the planner has seen every change so far and the queue is empty. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Counts DynamoDB requests by operation, and the read and write units they would consume in AWS. DynamoDB
 * Local under-reports transactional writes, so write units follow AWS's rules for items under 1 KB (every
 * item here is): 1 per item written, 2 in a transaction, plus 1 per index entry written (see indexWrites). Reads: 1 per strongly consistent item
 * read (0.5 eventually consistent, a missing item included); queries as DynamoDB Local reports them.
 */
export class RequestCounter {
  readonly byCommand = new Map<string, number>();
  rcu = 0;
  wcu = 0;
  get total(): number {
    let n = 0;
    for (const v of this.byCommand.values()) n += v;
    return n;
  }
  reset(): void {
    this.byCommand.clear();
    this.rcu = 0;
    this.wcu = 0;
  }
  /**
   * Index entries a write adds or rewrites. A whole item (a put) has one in each index that projects
   * every attribute and whose key it carries. A keys-only index (GSI3, a delivery record's) is written
   * only when the put creates the item (`attribute_not_exists`): later puts of the same record keep its
   * index keys, and AWS writes no index entry that does not change. An update or delete by key rewrites
   * only a subscriber item's (GSI1 and GSI2).
   */
  private static indexWrites(key: unknown, put?: { creates: boolean }): number {
    const str = (v: unknown) => (typeof v === 'string' ? v : ((v as { S?: string } | undefined)?.S ?? ''));
    const k = key as Record<string, unknown> | undefined;
    if (put) return TABLE_SCHEMA.indexes.filter((ix) => k?.[ix.partitionKey] !== undefined && (ix.projection === 'ALL' || put.creates)).length;
    return str(k?.PK).startsWith('SUB#') && str(k?.SK) === 'SUB' ? 2 : 0;
  }
  private account(name: string, input: Record<string, any>, consumed: unknown): void {
    const write = (key: unknown, factor: number, put?: { creates: boolean }) => (this.wcu += factor + RequestCounter.indexWrites(key, put));
    const creates = (condition: unknown) => typeof condition === 'string' && condition.includes('attribute_not_exists');
    switch (name) {
      case 'PutItemCommand':
        return void write(input.Item, 1, { creates: creates(input.ConditionExpression) });
      case 'UpdateItemCommand':
      case 'DeleteItemCommand':
        return void write(input.Key, 1);
      case 'TransactWriteItemsCommand':
        for (const t of input.TransactItems ?? []) {
          if (t.Put) write(t.Put.Item, 2, { creates: creates(t.Put.ConditionExpression) });
          else write(t.Update?.Key ?? t.Delete?.Key ?? t.ConditionCheck?.Key, 2);
        }
        return;
      case 'BatchWriteItemCommand':
        // Unconditional: the worker's outcomes rewrite records it claimed (no new index key); seeding creates subscribers (ALL-projected indexes).
        for (const reqs of Object.values(input.RequestItems ?? {}) as any[])
          for (const r of reqs) r.PutRequest ? write(r.PutRequest.Item, 1, { creates: false }) : write(r.DeleteRequest?.Key, 1);
        return;
      case 'GetItemCommand':
        this.rcu += input.ConsistentRead ? 1 : 0.5;
        return;
      case 'BatchGetItemCommand':
        for (const t of Object.values(input.RequestItems ?? {}) as any[]) this.rcu += (t.Keys?.length ?? 0) * (t.ConsistentRead ? 1 : 0.5);
        return;
      default:
        for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) this.rcu += (c as { CapacityUnits?: number }).CapacityUnits ?? 0;
    }
  }
  attach(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = (context as { commandName?: string }).commandName ?? 'Unknown';
        this.byCommand.set(name, (this.byCommand.get(name) ?? 0) + 1);
        const input = args.input as Record<string, unknown>;
        if (name === 'QueryCommand') input.ReturnConsumedCapacity = 'TOTAL';
        const out = await next(args);
        this.account(name, input, (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
        return out;
      },
      { step: 'initialize', name: 'requestCounter' },
    );
  }
}

export function testLinks(site: SiteConfig = TEST_SITE, clock: Clock = systemClock) {
  const signer = createTokenSigner('delivery-harness-secret-0123456789abcdef');
  return (id: string) => subscriberLinks(site, signer, id, clock.now(), 'unsubscribe@news.example.com');
}

/** Confirmation links signed like {@link testLinks}. */
export function testConfirmLinks(site: SiteConfig = TEST_SITE, clock: Clock = systemClock) {
  const signer = createTokenSigner('delivery-harness-secret-0123456789abcdef');
  return (id: string) => confirmationLink(site, signer, id, clock.now());
}

/**
 * Builds the delivery pipeline as the local runtime does (compose/sending.ts, the deployment limits, the
 * in-process queue with one killable worker instance per concurrent call) and starts its planner and queue.
 */
export async function startDeliveryPipeline(o: PipelineOptions): Promise<Pipeline> {
  const time = o.time ?? systemTime;
  const clock = o.clock ?? time;
  const log = o.log ?? (() => undefined);
  const ddb = new DynamoDBClient({ endpoint: o.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  o.counter?.attach(ddb);
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  const streams = new DynamoDBStreamsClient({ endpoint: o.dynamoEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const limits = o.limits ?? deploymentLimits(o.maxSendRate ?? 14);
  await mkdir(o.dataDir, { recursive: true });
  const worker = { ...limits.sendWorker, ...(o.workers ? { maximumConcurrency: o.workers } : {}), ...(o.inFlight ? { inFlight: o.inFlight } : {}) };
  const queue = new InProcessQueue({
    ...queueOptionsFrom(worker),
    ...(o.visibilityTimeoutMs ? { visibilityTimeoutMs: o.visibilityTimeoutMs } : {}),
    time,
    log,
    onDeadLetter: (record) => createSendDeadLetterHandler(base.deps, { maxReceives: worker.maxReceiveCount })({ Records: [record] }),
  });
  const sending: SendingBase = {
    db: doc,
    table: o.tableName,
    limits: { ...limits, sendWorker: worker },
    env: SendEnvSchema.parse({}),
    site: TEST_SITE,
    time,
    log,
  };
  const ses = new SesMailer({ client: new SESClient({ endpoint: o.sesUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }), clock });
  const callLog = o.callLog;
  const mailer: Mailer = callLog
    ? {
        getSendQuota: () => ses.getSendQuota(),
        send: (email) => {
          appendFileSync(callLog, `${email.to.address}\n`);
          return ses.send(email);
        },
      }
    : ses;
  const planning = { ...planningDeps({ ...sending, queue, store: new FsDocumentStore(join(o.dataDir, 'public')), quota: mailer }), clock };
  const mailing: MailingParts = {
    mailer,
    renderer: createEmailRenderer({
      templatesDir: join(import.meta.dirname, '..', '..', 'templates', 'email'),
      branding: { siteName: TEST_SITE.title, siteUrl: TEST_SITE.siteUrl, postalAddress: '1 Main Street, Springfield' },
    }),
    links: testLinks(TEST_SITE, clock),
    confirmLinks: testConfirmLinks(TEST_SITE, clock),
    mail: {
      from: { name: TEST_SITE.title, address: 'news@news.example.com' },
      configurationSet: 'newsletter',
      transactionalConfigurationSet: 'transactional',
      listId: formatListId(TEST_SITE.title, 'news.example.com'),
    },
  };
  const paced = (d: DeliveryDeps): DeliveryDeps => (o.maxSendRate ? d : { ...d, limiter: unlimited });
  const first = paced(deliveryDeps({ ...sending, planning, mailing }));
  const base = { deps: { ...first, settings: { ...first.settings, ...o.settings } } as DeliveryDeps };
  // A worker instance: its own limiter and call slots; everything else read through the shared deps, so
  // a test that swaps `pipeline.deps.mailer` or changes a setting reaches every instance.
  const instanceDeps = (): DeliveryDeps => {
    const own = paced(deliveryDeps({ ...sending, planning, mailing }));
    return Object.assign(Object.create(base.deps) as DeliveryDeps, { limiter: own.limiter, providerSlots: own.providerSlots, sleep: own.sleep });
  };

  const planner = new StreamPoller({
    ddb,
    streams,
    tableName: o.tableName,
    checkpointFile: join(o.dataDir, 'stream-checkpoints', 'send-planner.json'),
    consumer: {
      name: 'send-planner',
      filter: SEND_PLANNER_FILTER,
      ...streamConsumerOptionsFrom(limits.sendPlanner),
      handler: createSendPlannerHandler(base.deps),
    },
    pollMs: 100,
    time,
    log,
  });
  await planner.start();
  queue.start({
    instance: () => {
      const k = killable(instanceDeps());
      return { handler: createSendWorkerHandler(k.value, { messagesAtOnce: worker.messagesAtOnce }), kill: k.kill };
    },
  });
  return {
    deps: base.deps,
    limits: sending.limits,
    queue,
    planner,
    doc,
    async idle() {
      // The planner enqueues and the queue's tallies feed the planner: wait until both are quiet together.
      for (;;) {
        await planner.idle();
        await queue.idle();
        await planner.idle();
        const st = queue.stats();
        if (st.visible + st.delayed + st.inFlight === 0) return;
      }
    },
    async stop() {
      await queue.stop();
      await planner.stop();
    },
  };
}

export interface SubscriberSpec {
  id: string;
  email?: string;
  name?: string;
  status?: 'pending' | 'confirmed' | 'unsubscribed' | 'suppressed';
  frequency?: 'instant' | 'daily' | 'weekly';
  topics?: string[];
  paused?: boolean;
  confirmedAt?: string;
  lastDigestAt?: { daily?: string; weekly?: string };
}

/** Writes subscriber items in the subscribers module's shape (GSI2 only while confirmed and not paused). */
export function subscriberItem(s: SubscriberSpec): Record<string, unknown> {
  const email = s.email ?? `${s.id}@example.org`;
  const status = s.status ?? 'confirmed';
  const frequency = s.frequency ?? 'instant';
  const createdAt = s.confirmedAt ?? '2024-01-01T00:00:00.000Z';
  return {
    ...keys.subscriber(s.id),
    entity: 'subscriber',
    id: s.id,
    email,
    emailHash: emailHash(email),
    ...(s.name ? { name: s.name } : {}),
    status,
    frequency,
    topics: s.topics ?? [],
    paused: s.paused ?? false,
    createdAt,
    ...(status === 'confirmed' ? { confirmedAt: s.confirmedAt ?? createdAt } : {}),
    updatedAt: createdAt,
    softBounces: 0,
    source: 'form',
    version: 1,
    ...keys.subscriberStatusGsi1(status, createdAt, s.id),
    ...(status === 'confirmed' && !s.paused ? keys.audienceGsi2(frequency, s.id) : {}),
  };
}

export function writeItems(doc: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[], parallel = 8): Promise<void> {
  return batchWriteAll(
    doc,
    tableName,
    items.map((Item) => ({ PutRequest: { Item } })),
    { concurrency: parallel },
  );
}

/** The digest dates item the delivery engine keeps beside a subscriber item. */
export const digestDatesItem = (id: string, lastDigestAt: { daily?: string; weekly?: string }): Record<string, unknown> => ({
  ...keys.subscriberDigests(id),
  entity: 'digestDates',
  ...lastDigestAt,
});

export const seedSubscribers = (doc: DynamoDBDocumentClient, tableName: string, specs: SubscriberSpec[]) =>
  writeItems(
    doc,
    tableName,
    specs.flatMap((s) => [subscriberItem(s), ...(s.lastDigestAt ? [digestDatesItem(s.id, s.lastDigestAt)] : [])]),
  );

export async function suppress(doc: DynamoDBDocumentClient, tableName: string, email: string): Promise<void> {
  await writeItems(doc, tableName, [
    { ...keys.suppression(emailHash(email)), entity: 'suppression', emailHash: emailHash(email), reason: 'bounce', at: '2024-01-01T00:00:00.000Z' },
  ]);
}

/** Polls a send until `done` says so. */
export async function waitForSend(
  repo: { get(id: string): Promise<Send | undefined> },
  id: string,
  done: (s: Send) => boolean,
  timeoutMs = 30_000,
): Promise<Send> {
  const deadline = Date.now() + timeoutMs;
  let last: Send | undefined;
  for (;;) {
    last = await repo.get(id);
    if (last && done(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for send ${id}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many messages the outbox holds for each envelope recipient. */
export async function outboxByRecipient(outboxDir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let days: string[] = [];
  try {
    days = await readdir(outboxDir);
  } catch {
    return counts;
  }
  for (const day of days) {
    const names = await readdir(join(outboxDir, day));
    for (const name of names.filter((n) => n.endsWith('.eml'))) {
      const sidecar = JSON.parse(await readFile(join(outboxDir, day, name.replace(/\.eml$/, '.json')), 'utf8')) as { destinations: string[] };
      for (const d of sidecar.destinations) counts.set(d, (counts.get(d) ?? 0) + 1);
    }
  }
  return counts;
}

/** Number of `.eml` files in the outbox. */
export async function outboxCount(outboxDir: string): Promise<number> {
  let n = 0;
  let days: string[] = [];
  try {
    days = await readdir(outboxDir);
  } catch {
    return 0;
  }
  for (const day of days) n += (await readdir(join(outboxDir, day))).filter((x) => x.endsWith('.eml')).length;
  return n;
}

// The fault test's sending process.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const config = JSON.parse(process.env.INKWIRE_PIPELINE ?? '{}') as PipelineOptions;
  const pipeline = await startDeliveryPipeline({
    ...config,
    log: (m, d) => process.stderr.write(`${m} ${d instanceof Error ? d.stack : d ? JSON.stringify(d) : ''}\n`),
  });
  // The queue of the previous (killed) process is gone: plan its active sends again.
  const resumed = await resumeActiveSends(pipeline.deps);
  process.stdout.write(`ready ${JSON.stringify({ resumed })}\n`);
}

/**
 * Publishes articles straight into the table (no scheduler: these are published at once), as the
 * publisher's API would, for tests of what sends do with them.
 */
export function publisherOf(doc: DynamoDBDocumentClient, tableName: string) {
  const deps: ArticleDeps = {
    articles: new DynamoArticleRepository(doc, tableName),
    scheduler: { schedule: async () => undefined, cancel: async () => undefined },
    clock: systemClock,
    site: TEST_SITE,
  };
  return (title: string, publishAt: string, tags: string[]) =>
    createArticle(deps, { title, body: `${title}: the story.`, bodyFormat: 'markdown', authors: [], tags, status: 'published', publishAt });
}
