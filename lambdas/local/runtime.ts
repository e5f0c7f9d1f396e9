import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { systemTime, type Clock, type TimeSource } from '../core/clock.ts';
import { deploymentLimits } from '../../infra/limits.ts';
import { CONFIGURATION_SETS } from '../../infra/mail-settings.ts';
import { accountLimiter, deadLetterDeps, deliveryDeps, pacedMailer, planningDeps, type MailingParts, type SendingBase } from '../compose/sending.ts';
import { invokeAsync, killable } from './lambda-emulation.ts';
import { emulatedLimits, limitsApp } from './limits-route.ts';
import { StaticApiKeys } from '../core/auth.ts';
import type { ArticleDeps } from '../core/articles/use-cases.ts';
import { rebuildFeeds, type FeedRebuildDeps } from '../core/feeds/rebuild.ts';
import { rebuildSite, rebuildWholeSite } from '../core/site/rebuild.ts';
import { DynamoArticleRepository } from '../adapters/dynamodb/article-repository.ts';
import { FsDocumentStore } from '../adapters/local/fs-document-store.ts';
import { HttpHubNotifier } from '../adapters/websub.ts';
import { createApp } from '../http/app.ts';
import { createFeedRebuildHandler } from '../handlers/feed-rebuild.ts';
import { createPublishScheduledHandler } from '../handlers/publish-scheduled.ts';
import { FEED_REBUILD_FILTER } from '../handlers/stream-filters.ts';
import { parseEnv, siteConfigFrom } from '../config.ts';
import { mailParts, subscriberDeps } from '../compose/mail.ts';
import { subscriberHttp } from '../compose/http.ts';
import { getConnInfo } from '@hono/node-server/conninfo';
import { confirmationLink, subscriberLinks } from '../core/subscribers/links.ts';
import type { DeliveryDeps } from '../core/sends/deps.ts';
import { digestScheduleFrom, mailSettingsFrom } from '../core/sends/settings.ts';
import { resumeActiveSends } from '../core/sends/use-cases.ts';
import { createSendPlannerHandler } from '../handlers/send-planner.ts';
import { createSendWorkerHandler } from '../handlers/send-worker.ts';
import { createSendDeadLetterHandler } from '../handlers/send-dead-letter.ts';
import { createDigestHandler } from '../handlers/digest.ts';
import { SEND_PLANNER_FILTER } from '../handlers/stream-filters.ts';
import { sendRoutes } from '../http/routes/sends.ts';
import { InProcessQueue, queueOptionsFrom } from './queue.ts';
import { DigestTimer } from './digest-timer.ts';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.ts';
import { StreamPoller, streamConsumerOptionsFrom } from './stream-poller.ts';
import { SESClient } from '@aws-sdk/client-ses';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SesSuppressionList } from '../adapters/ses/suppression-list.ts';
import { SesMailer } from '../adapters/ses/ses-mailer.ts';
import { startSesEndpoint } from './ses-endpoint.ts';
import { recentSendEvents, simulatedEvents, snsEnvelope } from './mailbox-simulator.ts';
import { createSesEventsHandler } from '../handlers/ses-events.ts';
import { providerEventDeps } from '../compose/provider-events.ts';
import { createOutboxApp } from './outbox.ts';
import { failedBatchesApp, LocalFailedBatches } from './failed-batches.ts';
import { DynamoSubscriberJobRepository } from '../adapters/dynamodb/subscriber-job-repository.ts';
import { FsUploadStore } from '../adapters/local/upload-store.ts';
import { uploadRoutes } from '../adapters/local/upload-routes.ts';
import { EXPORT_FILE_HOURS, type SubscriberJobDeps } from '../core/subscribers/jobs.ts';
import { createSubscriberImportHandler } from '../handlers/subscriber-import.ts';
import { createSubscriberJobsHandler } from '../handlers/subscriber-jobs.ts';
import { LocalEnvSchema } from '../compose/local-env.ts';
import { consoleLog } from '../adapters/observability/console.ts';

export { LocalEnvSchema };

export interface LocalRuntime {
  url: string;
  port: number;
  apiKey: string;
  dataDir: string;
  tableName: string;
  dynamoEndpoint: string;
  /** The local SES-compatible endpoint; every message is kept under DATA_DIR/outbox/. */
  sesEndpoint: string;
  outboxDir: string;
  /** Resolves once every stream record written so far has been processed. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A secret created on first start and kept in DATA_DIR, so later starts use the same one. */
async function localSecret(dataDir: string, name: string, make: () => string): Promise<string> {
  const file = join(dataDir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const value = make();
    await writeFile(file, `${value}\n`, { mode: 0o600 });
    return value;
  }
}

/**
 * The embedded runtime behind `npm start`: DynamoDB Local, the document folder standing in for S3, the
 * HTTP app, and the stream and schedule loops that call the same handlers Lambda runs.
 */
/** What the local SES endpoint reports as the account's rate when SES_MAX_SEND_RATE is not set (SES's usual first production rate). */
export const LOCAL_SES_RATE = 14;

/**
 * `time`: what the runtime runs on (a ScaledTime in tests runs every timeout and wait faster, together);
 * `clock`: the engine's clock only, when a test must hold it still.
 */
export async function startLocalRuntime(
  options: { env?: Record<string, string | undefined>; clock?: Clock; time?: TimeSource; log?: (m: string, d?: unknown) => void } = {},
): Promise<LocalRuntime> {
  const env = parseEnv(LocalEnvSchema, options.env ?? process.env);
  // Readable single lines on stderr (the AWS functions write JSON through Powertools instead).
  const log = options.log ?? consoleLog();
  const time = options.time ?? systemTime;
  const clock = options.clock ?? time;
  let stopping = false;
  const dataDir = resolve(env.DATA_DIR);
  await mkdir(dataDir, { recursive: true });

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    stopping = true;
    for (const s of stops.reverse()) await s().catch((e) => log('stop failed', e));
  };

  try {
    let endpoint = env.DYNAMODB_ENDPOINT;
    if (!endpoint) {
      const ddbLocal: DynamoDbLocal = await startDynamoDbLocal({ dbPath: join(dataDir, 'dynamodb') });
      stops.push(() => ddbLocal.stop());
      endpoint = ddbLocal.endpoint;
    }
    const ddb = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const streams = new DynamoDBStreamsClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
    await ensureTable(ddb, env.TABLE_NAME);

    const outboxDir = join(dataDir, 'outbox');
    // The account's rate: SES_MAX_SEND_RATE, or what the local endpoint reports by default (14/s). The
    // endpoint enforces it as SES does (Throttling above it), and every limit of the deployment follows from it.
    const accountRate = env.SES_MAX_SEND_RATE ?? LOCAL_SES_RATE;
    const limits = deploymentLimits(accountRate);
    // SES's events, as its mailbox simulator would publish them for each accepted message, through SNS to
    // the events queue (an in-process queue under the events function's limits) and the same handler as in AWS.
    const sesEventsQueue = new InProcessQueue({ name: 'ses-events', ...queueOptionsFrom(limits.sesEvents), time, log });
    const ses = await startSesEndpoint({
      onAccepted: (message) => {
        const now = new Date(time.nowMs());
        const events = simulatedEvents(message, now, (address, set) => ses.isSuppressed(address, set));
        if (events.length) sesEventsQueue.sendBodies(events.map((e) => snsEnvelope(e, now)));
      },
      port: env.SES_PORT,
      outboxDir,
      configurationSets: [env.SES_CONFIGURATION_SET_NEWSLETTER, env.SES_CONFIGURATION_SET_TRANSACTIONAL],
      quota: { maxSendRate: accountRate },
      enforceRate: true,
      time,
      suppressionListFile: join(dataDir, 'ses-suppression-list.json'),
      suppressedReasons: {
        [env.SES_CONFIGURATION_SET_NEWSLETTER]: CONFIGURATION_SETS.newsletter.suppressedReasons,
        [env.SES_CONFIGURATION_SET_TRANSACTIONAL]: CONFIGURATION_SETS.transactional.suppressedReasons,
      },
    });
    stops.push(() => ses.stop());
    // SES's account-level suppression list, kept in step with ours, on the local endpoint (SES v2 API).
    const providerSuppressions = new SesSuppressionList(new SESv2Client({ endpoint: ses.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    // The production Mailer, unchanged, pointed at the local endpoint, with the worker's request timeout.
    const mailer = new SesMailer({
      client: new SESClient({
        endpoint: ses.url,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
        requestHandler: { requestTimeout: limits.sendWorker.sesRequestTimeoutSeconds * 1000 },
      }),
    });

    // A newcomer's key is printed at every start; the token key signs confirmation and unsubscribe links.
    const apiKey = env.INKWIRE_API_KEY ?? (await localSecret(dataDir, 'api-key', () => `iw_${randomBytes(24).toString('base64url')}`));
    const tokenSecret = await localSecret(dataDir, 'token-secret', () => randomBytes(32).toString('base64url'));
    // The server listens before the app is assembled (to learn its port); until then it answers 503.
    let appRef: { fetch: (req: Request) => Response | Promise<Response> } = {
      fetch: () => new Response(JSON.stringify({ status: 'starting' }), { status: 503, headers: { 'content-type': 'application/json' } }),
    };
    const listen = await new Promise<{ server: ServerType; port: number }>((res, rej) => {
      const server = serve({ fetch: (req) => appRef.fetch(req), port: env.PORT, hostname: env.HOST }, (info: AddressInfo) => res({ server, port: info.port }));
      server.once('error', rej);
    });
    stops.push(() => new Promise<void>((r) => listen.server.close(() => r())));
    const url = `http://localhost:${listen.port}`;
    const site = siteConfigFrom(env, url);

    const articlesRepo = new DynamoArticleRepository(doc, env.TABLE_NAME);
    const documents = new FsDocumentStore(join(dataDir, 'public'));
    const articleDeps: ArticleDeps = {
      articles: articlesRepo,
      // The local runtime's own timer (below) finds due articles; nothing to register.
      scheduler: { schedule: async () => undefined, cancel: async () => undefined },
      clock,
      site,
    };
    const feedDeps: FeedRebuildDeps = {
      index: articlesRepo,
      store: documents,
      site,
      hub: site.websubHub ? new HttpHubNotifier(site.websubHub, fetch, log) : undefined,
    };

    const sending: SendingBase = { db: doc, table: env.TABLE_NAME, limits, env, site, time, log };
    // The API's confirmation and welcome mail takes its instants from the account's rate, as the workers do.
    const mail = mailParts(env, site, { mailer: pacedMailer(mailer, accountLimiter(sending).limiter), tokenSecret, templatesDir: env.TEMPLATES_DIR });
    const subscribers = { ...subscriberDeps(env, site, mail, doc, env.TABLE_NAME, clock, log), providerSuppressions };
    sesEventsQueue.start(createSesEventsHandler(providerEventDeps(env, doc, env.TABLE_NAME, clock, tokenSecret, providerSuppressions, log)));
    stops.push(() => sesEventsQueue.stop());

    // Subscriber import and export jobs. Files live under DATA_DIR/uploads/ and are reached by URLs to this
    // server, signed like S3's presigned URLs. A finished upload calls the import handler with the event S3
    // would send; exports go through an in-process queue calling the jobs handler, as SQS does in AWS.
    const uploads = new FsUploadStore(join(dataDir, 'uploads'), { baseUrl: site.publicUrl, secret: tokenSecret, now: () => clock.now() });
    const jobsQueue = new InProcessQueue({ name: 'subscriber-jobs', ...queueOptionsFrom(limits.subscriberJobs), time, log });
    const jobDeps: SubscriberJobDeps = {
      jobs: new DynamoSubscriberJobRepository(doc, env.TABLE_NAME),
      uploads,
      queue: { enqueue: async (m) => jobsQueue.sendBodies([JSON.stringify(m)]) },
      clock,
      maxImportBytes: env.MAX_IMPORT_BYTES,
      log,
    };
    const runImport = createSubscriberImportHandler({ ...jobDeps, subscribers });
    const importsRunning = new Set<Promise<void>>();
    // As the jobs bucket's lifecycle rule does in AWS: job files (personal data) are gone after a day.
    const sweepUploads = () => uploads.sweep(EXPORT_FILE_HOURS * 3_600_000).catch((e: unknown) => log('could not clear old job files', e));
    await sweepUploads();
    const uploadSweeper = setInterval(sweepUploads, 3_600_000);
    uploadSweeper.unref();
    stops.push(async () => clearInterval(uploadSweeper));
    const importUploaded = (event: Parameters<typeof runImport>[0]) => {
      // S3 invokes the import function asynchronously: its timeout, Lambda's two retries, then the on-failure destination.
      const run: Promise<void> = invokeAsync((e: typeof event, context) => runImport(e, context), event, limits.subscriberImport, time, undefined, {
        log,
        name: 'subscriber-import',
        cancelled: () => stopping,
      })
        .then(() => undefined)
        .finally(() => importsRunning.delete(run));
      importsRunning.add(run);
    };

    // Sends, under the deployment's limits: planned from the table's stream, fanned out through an
    // in-process queue that calls the same worker handler as SQS does in AWS, with the send queue's batch
    // size, maximum concurrency, visibility timeout and receive count, and the worker's timeout. Each
    // concurrent call runs in its own worker instance (its own limiter and call slots, killed when a call
    // runs past the timeout); their instants come from the account's shared rate, as in AWS. A batch given
    // up after its last receive goes to the same handler as the send dead-letter queue's in AWS.
    const sendQueue = new InProcessQueue({
      name: 'send',
      ...queueOptionsFrom(limits.sendWorker),
      time,
      log,
      onDeadLetter: (record) => settleGivenUp({ Records: [record] }),
    });
    const planning = planningDeps({ ...sending, queue: sendQueue, store: documents, quota: mailer });
    const mailing: MailingParts = {
      mailer,
      renderer: mail.emails,
      links: (id) => subscriberLinks(site, mail.signer, id, clock.now(), env.UNSUBSCRIBE_MAILBOX),
      confirmLinks: (id) => confirmationLink(site, mail.signer, id, clock.now()),
      mail: mailSettingsFrom(env, site),
    };
    // The API's preview and test sends (its test sends take instants from the same rate).
    const sendDeps: DeliveryDeps = deliveryDeps({ ...sending, planning, mailing });

    // A fresh instance serves valid, empty site feeds at the URLs it prints, before the first publish.
    if (!(await documents.get('/feed.xml'))) await rebuildFeeds(feedDeps, new Map([['site', new Set<string>()]]));
    // The site as the current settings want it, so `/` answers at once: every page when there is no home
    // page yet (a fresh instance, or pages just turned on), else the home page, 404 page and sitemap
    // (byte-identical pages are not rewritten).
    const siteDeps = { index: articlesRepo, store: documents, site };
    if (site.pages !== false && !(await documents.get('/index.html'))) await rebuildWholeSite(siteDeps);
    else await rebuildSite(siteDeps, { feeds: new Map([['site', new Set<string>()]]), entries: [] });

    // The stream consumers' on-failure destination (an S3 bucket in AWS): batches given up after their
    // retries are kept under DATA_DIR/failed-batches/ in Lambda's format, replayable through the same handlers.
    const failedBatches = new LocalFailedBatches(join(dataDir, 'failed-batches'));
    const streamHandlers = {
      'feed-rebuild': createFeedRebuildHandler({ ...feedDeps, pages: documents, log }),
      'send-planner': createSendPlannerHandler(planning),
    };

    let ready = false;
    const app = createApp({
      articles: articleDeps,
      apiKeys: new StaticApiKeys([apiKey]),
      documents,
      mounts: [
        { path: '/api', app: sendRoutes(sendDeps) },
        ...subscriberHttp(env, subscribers, {
          db: doc,
          table: env.TABLE_NAME,
          templatesDir: env.TEMPLATES_DIR,
          socketAddress: (c) => getConnInfo(c).remote.address,
          jobs: jobDeps,
          console: { keys: async () => [apiKey], api: (r) => appRef.fetch(r), site, documents, quota: () => mailer.getSendQuota(), region: LOCAL_REGION },
        }),
        { path: '/_dev/outbox', app: createOutboxApp(outboxDir, { basePath: '/_dev/outbox' }) },
        { path: '/_dev/failed-batches', app: failedBatchesApp(failedBatches, streamHandlers) },
        { path: '/_dev/limits', app: limitsApp(() => emulatedLimits(limits, { sendQueue, jobsQueue, sesEventsQueue, feedPoller, sendPoller })) },
        { path: '/_uploads', app: uploadRoutes(uploads, { maxBytes: env.MAX_IMPORT_BYTES, onUploaded: importUploaded }) },
      ],
      ready: async () => ready,
      log,
    });
    appRef = app;

    // One poller per stream consumer, as Lambda runs one event source mapping per function, each under its limits.
    const startPoller = async (
      name: 'feed-rebuild' | 'send-planner',
      filter: typeof FEED_REBUILD_FILTER,
      consumerLimits: Parameters<typeof streamConsumerOptionsFrom>[0],
    ) => {
      const poller = new StreamPoller({
        ddb,
        streams,
        tableName: env.TABLE_NAME,
        checkpointFile: join(dataDir, 'stream-checkpoints', `${name}.json`),
        consumer: { name, filter, ...streamConsumerOptionsFrom(consumerLimits), handler: streamHandlers[name] },
        time,
        onFailure: (failure) => failedBatches.put(failure, clock.now()),
        log,
      });
      await poller.start();
      stops.push(() => poller.stop());
      return poller;
    };
    const feedPoller = await startPoller('feed-rebuild', FEED_REBUILD_FILTER, limits.feedRebuild);
    const sendPoller = await startPoller('send-planner', SEND_PLANNER_FILTER, limits.sendPlanner);
    const settleGivenUp = createSendDeadLetterHandler(deadLetterDeps(sending), { maxReceives: limits.sendWorker.maxReceiveCount });
    sendQueue.start({
      instance: () => {
        const instance = killable(deliveryDeps({ ...sending, planning, mailing }));
        return { handler: createSendWorkerHandler(instance.value, { messagesAtOnce: limits.sendWorker.messagesAtOnce }), kill: instance.kill };
      },
    });
    stops.push(() => sendQueue.stop());
    jobsQueue.start(createSubscriberJobsHandler({ ...jobDeps, subscribers: subscribers.subscribers }));
    stops.push(async () => {
      await jobsQueue.stop();
      // An import still running after a few seconds is left to die with the process: its job shows as stopped.
      await Promise.race([Promise.allSettled([...importsRunning]), new Promise((r) => setTimeout(r, 5000).unref())]);
    });
    // The previous process's in-process queues died with it. SES's Send events of the messages accepted in
    // the report window are published again, so calls that reached the endpoint are settled as submitted;
    // then its active sends are re-planned (the ledger says who is done).
    const replayed = await recentSendEvents(outboxDir, new Date(clock.now().getTime() - planning.settings.reportWindowMs));
    if (replayed.length) sesEventsQueue.sendBodies(replayed.map((e) => snsEnvelope(e, clock.now())));
    await resumeActiveSends(planning);
    const digestTimer = new DigestTimer({
      handler: createDigestHandler(planning),
      schedule: digestScheduleFrom(env),
      stateFile: join(dataDir, 'digest-timer.json'),
      clock,
      time,
      ...DigestTimer.optionsFrom(limits.digest),
      log,
    });
    await digestTimer.start();
    stops.push(() => digestTimer.stop());

    // Scheduled articles: in AWS a one-time schedule per article (and a sweep every minute) invokes the
    // publish function asynchronously; here a tick each second of the runtime's time does, as Lambda runs an
    // asynchronous invocation: under the function's timeout (abandoned past it), a failure tried again after
    // about 1 and 2 minutes (Lambda's two retries), then handed to the on-failure destination (logged). The
    // next tick comes once the invocation and its retries are over.
    const publishScheduled = createPublishScheduledHandler(articleDeps);
    const ticker = (async () => {
      while (!stopping) {
        await invokeAsync(() => publishScheduled({}), {}, limits.publishScheduled, time, undefined, {
          log,
          name: 'publish-scheduled',
          cancelled: () => stopping,
        });
        await time.sleep(1000);
      }
    })();
    stops.push(async () => {
      stopping = true;
      await Promise.race([ticker, time.sleep(1000)]);
    });

    ready = true;
    return {
      url,
      port: listen.port,
      apiKey,
      dataDir,
      tableName: env.TABLE_NAME,
      dynamoEndpoint: endpoint,
      sesEndpoint: ses.url,
      outboxDir,
      settled: async () => {
        await feedPoller.idle();
        await sendPoller.idle();
        await sendQueue.idle();
        await jobsQueue.idle();
        await sesEventsQueue.idle();
        while (importsRunning.size) await Promise.allSettled([...importsRunning]);
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
