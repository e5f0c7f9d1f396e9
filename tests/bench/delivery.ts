/**
 * A daily digest to 10,000 (and, with `--100k` or INKWIRE_BENCH_100K=1, 100,000) confirmed subscribers
 * through the local pipeline: DynamoDB Local, the local SES endpoint (real SESClient + SesMailer), the
 * in-process queue and the stream-driven planner, in this process. Measured side by side with a bare
 * SendRawEmail loop to the same endpoint at the same concurrency, in the same run. Figures, not pass/fail.
 *
 * Run alone: `node --expose-gc --import tsx tests/bench/delivery.ts [--100k]` (with --expose-gc the live heap is
 * reported too), or `npm run bench -- delivery`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SESClient } from '@aws-sdk/client-ses';
import { newId } from '../../lambdas/core/ids.ts';
import type { Article } from '../../lambdas/core/articles/schema.ts';
import { createEmailRenderer } from '../../lambdas/core/email/templates.ts';
import { composeEmail } from '../../lambdas/core/sends/content.ts';
import { createSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../lambdas/local/dynamodb-local.ts';
import { startSesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { RequestCounter, seedSubscribers, startDeliveryPipeline, TEST_SITE, testLinks, waitForSend } from '../support/delivery-harness.ts';

/** Published prices (us-east-1), USD. */
export const PRICES = {
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  sqsRequest: 0.4 / 1e6,
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  sesPerEmail: 0.1 / 1000,
};

export interface DeliveryBenchOptions {
  sizes?: number[];
  /** Provider calls in flight, for the pipeline and the bare loop alike. */
  concurrency?: number;
  /** Worker calls at once (the queue's maximum concurrency). */
  workers?: number;
  /** Messages the bare loop sends (its rate does not depend on the audience size). */
  bareMessages?: number;
  /** Recipients of an unmeasured send before each measured one (the bare loop has its warm-up too). */
  warmUpRecipients?: number;
  /** For the Lambda estimate: the worker's memory, how many run at once in AWS, and the SES rates they are paced to. */
  lambdaMemoryGb?: number;
  awsWorkers?: number;
  sesRates?: number[];
  log?: (line: string) => void;
}

export interface DeliveryRun {
  recipients: number;
  submitted: number;
  seconds: number;
  messagesPerSecond: number;
  /** Pipeline rate / bare loop rate, same endpoint, same concurrency. */
  vsBare: number;
  /** CPU time per message: this process (worker, planner, SDK clients and the SES endpoint) and DynamoDB Local's Java process. */
  cpuMsPerMessage: { node: number; dynamodbLocal: number; total: number };
  peakRssMb: number;
  peakHeapMb: number;
  /** Heap right after a forced collection, sampled every 2 s (run node with --expose-gc). */
  peakLiveHeapMb?: number | undefined;
  dynamoRequestsPerRecipient: number;
  dynamoRequestsByCommand: Record<string, number>;
  readUnitsPerRecipient: number;
  writeUnitsPerRecipient: number;
  queueMessages: number;
  workerInvocations: number;
  /** USD per 1,000 emails beyond SES's $0.10, by service, with the Lambda time paced at each SES rate. */
  costPer1000: { dynamodb: number; sqs: number; lambdaRequests: number; lambdaComputeBySesRate: Record<string, number>; totalBySesRate: Record<string, number> };
}

export interface DeliveryFigures {
  /** The bare loop's rate: the mean of a run before the pipeline runs and one after, so drift in machine load weighs on both. */
  bareLoopMessagesPerSecond: number;
  bareLoopRuns: number[];
  /** CPU time per message of the bare loop (client and SES endpoint, both in this process). */
  bareCpuMsPerMessage: number;
  /** CPUs this machine has: the pipeline and the bare loop share them with DynamoDB Local. */
  cpus: number;
  concurrency: number;
  runs: DeliveryRun[];
  /** Peak RSS at 100,000 over peak RSS at 10,000. */
  memory100kVs10k?: number;
  liveHeap100kVs10k?: number;
  assumptions: string[];
}

/**
 * Peak RSS and V8 heap, sampled every 50 ms. With `--expose-gc`, also the live heap: collected every
 * 2 s and measured right after, so garbage V8 has not yet bothered to collect does not count.
 */
function sampler() {
  let rss = 0;
  let heap = 0;
  let live = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  const t = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 50);
  const g = gc
    ? setInterval(() => {
        gc();
        live = Math.max(live, process.memoryUsage().heapUsed);
      }, 2000)
    : undefined;
  return {
    stop() {
      clearInterval(t);
      if (g) clearInterval(g);
      return { rssMb: rss / 2 ** 20, heapMb: heap / 2 ** 20, liveHeapMb: gc ? live / 2 ** 20 : undefined };
    },
  };
}

function article(i: number, now: number): Article {
  const at = new Date(now - (i + 1) * 3_600_000).toISOString();
  return {
    id: newId(new Date(now - i)),
    slug: `bench-${i}`,
    title: `Bench article ${i}`,
    bodyFormat: 'markdown',
    body: 'Body',
    contentHtml: '<p>Body</p>',
    summary: `A summary of article ${i}, long enough to look like a real one in a digest.`,
    summaryDerived: false,
    authors: [{ name: 'Bench Writer' }],
    tags: [{ name: 'Bench', slug: 'bench' }],
    url: `${TEST_SITE.siteUrl}/articles/bench-${i}/`,
    urlDerived: true,
    status: 'published',
    publishedAt: at,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); 0 where it cannot be read. */
async function processCpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return 0;
  }
}
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** A bare loop: SesMailer.send (MIME build + SendRawEmail) at `concurrency`, nothing else. */
async function bareLoop(sesUrl: string, concurrency: number, messages: number): Promise<{ rate: number; cpuMsPerMessage: number }> {
  const mailer = new SesMailer({ client: new SESClient({ endpoint: sesUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }) });
  const renderer = createEmailRenderer({ templatesDir: join(import.meta.dirname, '..', '..', 'templates', 'email'), branding: { siteName: TEST_SITE.title, siteUrl: TEST_SITE.siteUrl, postalAddress: '1 Main Street, Springfield' } });
  const now = Date.now();
  const prepared = await renderer.prepare('digest', { period: 'daily', articles: [0, 1, 2].map((i) => article(i, now)) });
  const links = testLinks();
  const mail = { from: { name: TEST_SITE.title, address: 'news@news.example.com' }, configurationSet: 'newsletter', transactionalConfigurationSet: 'transactional', listId: 'Thin Line News <news.example.com>' };
  let next = 0;
  const cpu = ownCpuSeconds();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < messages; i = next++) {
        await mailer.send(composeEmail({ links, mail }, { id: 'bare', kind: 'digest', subject: undefined }, prepared, { id: `b${i}`, email: `b${i}@example.org` }));
      }
    }),
  );
  const rate = messages / ((performance.now() - started) / 1000);
  return { rate, cpuMsPerMessage: ((ownCpuSeconds() - cpu) * 1000) / messages };
}

export async function benchDelivery(opts: DeliveryBenchOptions = {}): Promise<DeliveryFigures> {
  const with100k = process.argv.includes('--100k') || process.env.INKWIRE_BENCH_100K === '1';
  const sizes = opts.sizes ?? (with100k ? [10_000, 100_000] : [10_000]);
  const concurrency = opts.concurrency ?? 8;
  const workers = opts.workers ?? 4;
  const memoryGb = opts.lambdaMemoryGb ?? 0.5;
  const awsWorkers = opts.awsWorkers ?? 2;
  const sesRates = opts.sesRates ?? [14, 100];
  const log = opts.log ?? ((l: string) => console.error(l));
  const dir = await mkdtemp(join(tmpdir(), 'inkwire-bench-delivery-'));
  const ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
  let ddb: Awaited<ReturnType<typeof startDynamoDbLocal>> | undefined;
  try {
    log(`bare loop: ${opts.bareMessages ?? 3000} messages at concurrency ${concurrency}...`);
    await bareLoop(ses.url, concurrency, 2000); // warm-up: JIT, sockets (as many messages as the pipeline's warm-up)
    const bareBefore = await bareLoop(ses.url, concurrency, opts.bareMessages ?? 3000);
    log(`  ${bareBefore.rate.toFixed(0)} messages/s, ${bareBefore.cpuMsPerMessage.toFixed(2)} ms CPU per message`);
    const runs: DeliveryRun[] = [];
    for (const n of sizes) {
      // A fresh DynamoDB Local per size, so one run's data does not weigh on the next.
      ddb = await startDynamoDbLocal();
      const tableName = `bench-${newId()}`;
      const admin = new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
      await ensureTable(admin, tableName);
      const doc = DynamoDBDocumentClient.from(admin, { marshallOptions: { removeUndefinedValues: true } });
      log(`${n} subscribers: seeding...`);
      const now = Date.now();
      // Seeded with the stream off: the planner would otherwise first read through one stream record per subscriber.
      await admin.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: false } }));
      const seedStart = performance.now();
      for (let from = 0; from < n; from += 10_000) {
        const ids = Array.from({ length: Math.min(10_000, n - from) }, (_, i) => from + i);
        await seedSubscribers(doc, tableName, ids.map((i) => ({ id: `b${String(i).padStart(7, '0')}`, frequency: 'daily', confirmedAt: new Date(now - 30 * 86_400_000).toISOString(), lastDigestAt: { daily: new Date(now - 86_400_000).toISOString() } })));
      }
      log(`  seeded in ${((performance.now() - seedStart) / 1000).toFixed(0)} s`);
      await admin.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
      const repo = new DynamoArticleRepository(doc, tableName);
      // Watches the send on a client of its own, so the polling is not counted.
      const watcher = new DynamoSendRepository(doc, tableName);
      for (let i = 0; i < 3; i++) await repo.create(article(i, now));
      const counter = new RequestCounter();
      const pipeline = await startDeliveryPipeline({ dynamoEndpoint: ddb.endpoint, tableName, sesUrl: ses.url, dataDir: join(dir, tableName), workers, inFlight: concurrency, counter });
      await pipeline.idle();
      // Warm-up, as the bare loop has one: a weekly digest to other subscribers (not the measured daily
      // audience), so the measured send does not pay for a cold JVM and JIT in this fresh DynamoDB Local.
      const warmUp = opts.warmUpRecipients ?? 2000;
      if (warmUp > 0) {
        log(`  warm-up: a weekly digest to ${warmUp} other subscribers...`);
        await seedSubscribers(doc, tableName, Array.from({ length: warmUp }, (_, i) => ({ id: `w${String(i).padStart(7, '0')}`, frequency: 'weekly' as const, confirmedAt: new Date(now - 30 * 86_400_000).toISOString() })));
        const w = await createSend(pipeline.deps, { kind: 'digest', frequency: 'weekly' });
        await waitForSend(watcher, w.body.id, (s) => s.status === 'completed', 600_000);
        await pipeline.idle();
      }
      counter.reset();
      (globalThis as { gc?: () => void }).gc?.();
      const mem = sampler();
      const cpuBefore = { node: ownCpuSeconds(), java: await processCpuSeconds(ddb.pid) };
      const started = performance.now();
      const created = await createSend(pipeline.deps, { kind: 'digest', frequency: 'daily' });
      const progress = setInterval(() => {
        void watcher.get(created.body.id).then((s) => s && log(`  ${s.status} ${s.counts.submitted}/${s.counts.planned}`));
      }, 10_000);
      const send = await waitForSend(watcher, created.body.id, (s) => s.status === 'completed', 3_600_000);
      clearInterval(progress);
      const seconds = (performance.now() - started) / 1000;
      const cpu = { node: ownCpuSeconds() - cpuBefore.node, java: (await processCpuSeconds(ddb.pid)) - cpuBefore.java };
      const { rssMb, heapMb, liveHeapMb } = mem.stop();
      const requests = counter.total;
      const byCommand = Object.fromEntries(counter.byCommand);
      const queueMessages = Math.ceil(n / 50);
      const invocations = pipeline.queue.invocations;
      await pipeline.stop();
      const per1000 = (x: number) => (x / send.counts.submitted) * 1000;
      const dynamodb = per1000(counter.wcu * PRICES.dynamoWriteUnit + counter.rcu * PRICES.dynamoReadUnit);
      // SendMessageBatch (10 messages, under 64 KB) + the event source's ReceiveMessage and DeleteMessageBatch per invocation.
      const sqsRequests = Math.ceil(queueMessages / 10) + 2 * invocations;
      const sqs = per1000(sqsRequests * PRICES.sqsRequest);
      const planner = 3 + Math.ceil(n / 1000);
      const lambdaRequests = per1000((invocations + planner) * PRICES.lambdaRequest);
      const lambdaComputeBySesRate: Record<string, number> = {};
      const totalBySesRate: Record<string, number> = {};
      for (const rate of sesRates) {
        // Paced workers are busy for as long as the send takes at the account's rate, each of them.
        const gbSeconds = (1000 / rate) * awsWorkers * memoryGb;
        lambdaComputeBySesRate[`${rate}/s`] = gbSeconds * PRICES.lambdaGbSecond;
        totalBySesRate[`${rate}/s`] = dynamodb + sqs + lambdaRequests + lambdaComputeBySesRate[`${rate}/s`]!;
      }
      const run: DeliveryRun = {
        recipients: n,
        submitted: send.counts.submitted,
        seconds: Math.round(seconds * 10) / 10,
        messagesPerSecond: Math.round(send.counts.submitted / seconds),
        vsBare: 0, // set once the bare loop has run again after the pipeline
        cpuMsPerMessage: {
          node: Math.round((cpu.node * 1000 * 100) / send.counts.submitted) / 100,
          dynamodbLocal: Math.round((cpu.java * 1000 * 100) / send.counts.submitted) / 100,
          total: Math.round(((cpu.node + cpu.java) * 1000 * 100) / send.counts.submitted) / 100,
        },
        peakRssMb: Math.round(rssMb),
        peakHeapMb: Math.round(heapMb),
        peakLiveHeapMb: liveHeapMb === undefined ? undefined : Math.round(liveHeapMb),
        dynamoRequestsPerRecipient: Math.round((requests / n) * 1000) / 1000,
        dynamoRequestsByCommand: byCommand,
        readUnitsPerRecipient: Math.round((counter.rcu / n) * 100) / 100,
        writeUnitsPerRecipient: Math.round((counter.wcu / n) * 100) / 100,
        queueMessages,
        workerInvocations: invocations,
        costPer1000: { dynamodb, sqs, lambdaRequests, lambdaComputeBySesRate, totalBySesRate },
      };
      log(`  ${JSON.stringify(run)}`);
      runs.push(run);
      await ddb.stop();
      ddb = undefined;
    }
    log('bare loop again...');
    const bareAfter = await bareLoop(ses.url, concurrency, opts.bareMessages ?? 3000);
    log(`  ${bareAfter.rate.toFixed(0)} messages/s, ${bareAfter.cpuMsPerMessage.toFixed(2)} ms CPU per message`);
    const bare = (bareBefore.rate + bareAfter.rate) / 2;
    for (const r of runs) r.vsBare = Math.round((r.messagesPerSecond / bare) * 100) / 100;
    const small = runs.find((r) => r.recipients === 10_000);
    const large = runs.find((r) => r.recipients === 100_000);
    return {
      bareLoopMessagesPerSecond: Math.round(bare),
      bareLoopRuns: [Math.round(bareBefore.rate), Math.round(bareAfter.rate)],
      bareCpuMsPerMessage: Math.round(((bareBefore.cpuMsPerMessage + bareAfter.cpuMsPerMessage) / 2) * 100) / 100,
      cpus: availableParallelism(),
      concurrency,
      runs,
      ...(small && large
        ? {
            memory100kVs10k: Math.round((large.peakRssMb / small.peakRssMb) * 100) / 100,
            ...(small.peakLiveHeapMb && large.peakLiveHeapMb ? { liveHeap100kVs10k: Math.round((large.peakLiveHeapMb / small.peakLiveHeapMb) * 100) / 100 } : {}),
          }
        : {}),
      assumptions: [
        'DynamoDB on-demand: requests counted by a middleware on the client; units by AWS rules for items under 1 KB (1 per item written, 2 in a transaction, +1 per GSI entry rewritten; 1 per strongly consistent item read, a missing one included; queries as DynamoDB Local sizes them). Stream reads by Lambda are free.',
        `SQS: one SendMessageBatch per 10 messages (50 recipients each, under 64 KB) plus one ReceiveMessage and one DeleteMessageBatch per worker invocation; idle long polling not counted (a fixed cost, not per email).`,
        `Lambda arm64, ${memoryGb * 1024} MB, ${awsWorkers} workers (the queue's maximum concurrency) paced to the SES rate shown, so each busy for 1000/rate seconds per 1,000 emails; plus about one planner invocation per 1,000 recipients. Locally ${workers} workers share one process.`,
        'Single table; a digest moves each recipient\u2019s digest dates in an item of their own (no index entry rewritten), written 25 to a request.',
        'Everything runs on this machine: the bare loop needs this process only (client and SES endpoint); the pipeline also needs DynamoDB Local (Java). When CPU-bound, the ratio to the bare loop is bounded by bareCpuMsPerMessage / cpuMsPerMessage.total times the CPUs the pipeline can use.',
      ],
    };
  } finally {
    await ses.stop();
    await ddb?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await benchDelivery({
    ...(process.env.INKWIRE_BENCH_SIZES ? { sizes: process.env.INKWIRE_BENCH_SIZES.split(',').map(Number) } : {}),
    ...(process.env.INKWIRE_BENCH_WORKERS ? { workers: Number(process.env.INKWIRE_BENCH_WORKERS) } : {}),
  });
  console.log(JSON.stringify(figures, null, 2));
  process.exit(0);
}
