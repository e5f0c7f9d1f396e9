/**
 * A daily digest to 10,000 (and, with `--100k` or INKWIRE_BENCH_100K=1, 100,000) confirmed subscribers
 * through the local pipeline: DynamoDB Local, the local SES endpoint (real SESClient + SesMailer), the
 * in-process queue and the stream-driven planner, in this process. Measured side by side with a bare
 * SendRawEmail loop to the same endpoint at the same concurrency, in the same run. Figures, not pass/fail.
 *
 * Run alone: `node --expose-gc --import tsx tests/bench/delivery.ts [--100k]` (with --expose-gc the live heap is
 * reported too), or `npm run bench -- delivery`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SESClient } from '@aws-sdk/client-ses';
import { ScaledTime, systemTime, type TimeSource } from '../../lambdas/core/clock.ts';
import { newId } from '../../lambdas/core/ids.ts';
import type { Send } from '../../lambdas/core/sends/model.ts';
import type { Article } from '../../lambdas/core/articles/schema.ts';
import { createEmailRenderer } from '../../lambdas/core/email/templates.ts';
import { composeEmail } from '../../lambdas/core/sends/content.ts';
import { createSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../lambdas/local/dynamodb-local.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { deploymentLimits } from '../../infra/limits.ts';
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
  /**
   * Paced runs: the pipeline under the deployment limits of `rate` against an endpoint enforcing that
   * rate, `recipients` long (about 45 s at the rate), on time `timeFactor` times faster than the wall clock
   * (1: real time). Default 600 at 14/s and 4,000 at 100/s, real time; `[]` skips them.
   */
  paced?: { rate: number; recipients: number; timeFactor?: number }[];
  /** Recipients of the unpaced send measured with the SES endpoint in a child process (0 skips it). */
  isolatedRecipients?: number;
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
  costPer1000: {
    dynamodb: number;
    sqs: number;
    lambdaRequests: number;
    lambdaComputeBySesRate: Record<string, number>;
    totalBySesRate: Record<string, number>;
  };
}

/**
 * CPU per email of this process only, with the SES endpoint in a child process: the unpaced pipeline
 * (send worker, planner, DynamoDB and SES clients) against the bare loop (SesMailer + SESClient), same
 * endpoint, same concurrency.
 */
export interface IsolatedCpu {
  /** Recipients of the pipeline's send; messages of each bare loop run (one before the send, one after). */
  recipients: number;
  bareMessages: number;
  /** This process while the send ran: worker, planner, the DynamoDB and SES clients, the bench's status polling. */
  workerCpuMsPerEmail: number;
  /** This process while the bare loop ran: MIME build (SesMailer) and SendRawEmail (SESClient: signing, HTTP, XML), the mean of both runs. */
  bareClientCpuMsPerEmail: number;
  /** workerCpuMsPerEmail / bareClientCpuMsPerEmail. */
  workerVsBare: number;
  /** The child SES endpoint's CPU per email (from /proc), under the pipeline and under the bare loop. */
  endpointCpuMsPerEmail: { pipeline: number; bare: number };
  /** DynamoDB Local's CPU per email during the send. */
  dynamodbLocalCpuMsPerEmail: number;
  pipelineMessagesPerSecond: number;
  bareMessagesPerSecond: number;
}

/** The pipeline paced to `configuredRate` under `deploymentLimits(configuredRate)`, the endpoint enforcing the rate. */
export interface PacedRun {
  configuredRate: number;
  /** `deploymentLimits(configuredRate).ses.pacedRate`: what the workers pace to, below the rate by the arrival jitter allowed. */
  pacedRate: number;
  /** Time ran this many times faster than the wall clock (1: real time); seconds and rates are on that time. */
  timeFactor: number;
  recipients: number;
  /** The send finished (completed, or stopped) within the time allowed; if not, the figures cover what was accepted by then. */
  complete: boolean;
  submitted: number;
  status: string;
  /** Recipients the endpoint accepted. */
  accepted: number;
  /** From the send's start (just before createSend) to the arrival of the last accepted message. */
  secondsToLastAccepted: number;
  /** From the send's start to the first accepted message (planning, queueing, the first claim). */
  secondsToFirstAccepted: number;
  /** accepted / secondsToLastAccepted. */
  achievedPerSecond: number;
  /** (accepted - 1) / (last accepted - first accepted): the rate once sending has begun. */
  steadyPerSecond: number;
  /** achievedPerSecond / configuredRate and / pacedRate, in percent. */
  achievedVsConfiguredPct: number;
  achievedVsPacedPct: number;
  /** Calls the endpoint answered with Throttling for the rate (`stats().throttledRate`). */
  throttles: number;
  /** Most recipients the endpoint accepted in any sliding second. */
  maxPerSecond: number;
  error?: string;
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
  /** The worker's CPU per email against the bare loop's, with the SES endpoint in a child process (so not in either). */
  isolatedCpu?: IsolatedCpu;
  /** The pipeline paced to the account's SES rate, against an endpoint enforcing it. */
  paced: PacedRun[];
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
  const renderer = createEmailRenderer({
    templatesDir: join(import.meta.dirname, '..', '..', 'templates', 'email'),
    branding: { siteName: TEST_SITE.title, siteUrl: TEST_SITE.siteUrl, postalAddress: '1 Main Street, Springfield' },
  });
  const now = Date.now();
  const prepared = await renderer.prepare('digest', { period: 'daily', articles: [0, 1, 2].map((i) => article(i, now)) });
  const links = testLinks();
  const mail = {
    from: { name: TEST_SITE.title, address: 'news@news.example.com' },
    configurationSet: 'newsletter',
    transactionalConfigurationSet: 'transactional',
    listId: 'Thin Line News <news.example.com>',
  };
  let next = 0;
  const cpu = ownCpuSeconds();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < messages; i = next++) {
        await mailer.send(
          composeEmail({ links, mail }, { id: 'bare', kind: 'digest', subject: undefined }, prepared, { id: `b${i}`, email: `b${i}@example.org` }),
        );
      }
    }),
  );
  const rate = messages / ((performance.now() - started) / 1000);
  return { rate, cpuMsPerMessage: ((ownCpuSeconds() - cpu) * 1000) / messages };
}

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The local SES endpoint in a child process (`node --import tsx`), so that this process's CPU does not
 * include it. It prints its URL, and stops when told (SIGTERM) or when this process goes (stdin closes).
 */
async function startChildSesEndpoint(dir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const script = join(dir, 'ses-endpoint-child.mjs');
  await writeFile(
    script,
    [
      `const { startSesEndpoint } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'lambdas', 'local', 'ses-endpoint.ts')).href)});`,
      `const ses = await startSesEndpoint({ outboxDir: ${JSON.stringify(join(dir, 'child-outbox'))} });`,
      `const stop = () => ses.stop().finally(() => process.exit(0));`,
      `process.on('SIGTERM', stop);`,
      `process.stdin.on('end', stop).resume();`,
      `process.stdout.write('url ' + ses.url + '\\n');`,
    ].join('\n'),
  );
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the child SES endpoint did not start within 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = /url (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the child SES endpoint exited (${code}) before starting`));
    });
  }).catch(async (e: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw e;
  });
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Seeds `n` confirmed daily subscribers (ids `b0000000`…) whose last daily digest was a day before `now`,
 * so a daily digest is due to every one. Seeded with the table's stream off: the planner would otherwise
 * first read through one stream record per subscriber.
 */
async function seedDailyAudience(admin: DynamoDBClient, doc: DynamoDBDocumentClient, tableName: string, n: number, now: number): Promise<void> {
  await admin.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: false } }));
  for (let from = 0; from < n; from += 10_000) {
    const ids = Array.from({ length: Math.min(10_000, n - from) }, (_, i) => from + i);
    await seedSubscribers(
      doc,
      tableName,
      ids.map((i) => ({
        id: `b${String(i).padStart(7, '0')}`,
        frequency: 'daily',
        confirmedAt: new Date(now - 30 * 86_400_000).toISOString(),
        lastDigestAt: { daily: new Date(now - 86_400_000).toISOString() },
      })),
    );
  }
  await admin.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
}

/** A fresh table in `endpoint` with `n` confirmed daily subscribers due a digest and three articles for it. */
async function audienceTable(endpoint: string, n: number, now: number) {
  const admin = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const tableName = `bench-${newId()}`;
  await ensureTable(admin, tableName);
  const doc = DynamoDBDocumentClient.from(admin, { marshallOptions: { removeUndefinedValues: true } });
  await seedDailyAudience(admin, doc, tableName, n, now);
  const repo = new DynamoArticleRepository(doc, tableName);
  for (let i = 0; i < 3; i++) await repo.create(article(i, now));
  return { tableName, doc, watcher: new DynamoSendRepository(doc, tableName) };
}

const finished = (s: Send) => ['completed', 'paused', 'cancelled', 'expired', 'failed'].includes(s.status);

/**
 * Worker CPU per email against the bare loop's client CPU per email, the SES endpoint in a child process:
 * a bare loop, the unpaced pipeline's send (after a warm-up), a bare loop again; `process.cpuUsage()` of
 * this process around each.
 */
async function isolatedCpu(o: {
  dir: string;
  ddbEndpoint: string;
  ddbPid: number | undefined;
  recipients: number;
  bareMessages: number;
  concurrency: number;
  workers: number;
  log: (l: string) => void;
}): Promise<IsolatedCpu> {
  const { log } = o;
  const ses = await startChildSesEndpoint(o.dir);
  let pipeline: Awaited<ReturnType<typeof startDeliveryPipeline>> | undefined;
  try {
    log(`CPU per email with the SES endpoint in a child process (pid ${ses.pid}, ${ses.url})`);
    const bare = async () => {
      const child = await processCpuSeconds(ses.pid);
      const r = await bareLoop(ses.url, o.concurrency, o.bareMessages);
      return { ...r, childMsPerMessage: (((await processCpuSeconds(ses.pid)) - child) * 1000) / o.bareMessages };
    };
    await bareLoop(ses.url, o.concurrency, 1000); // warm-up: the new endpoint's sockets and JIT
    const before = await bare();
    log(
      `  bare loop: ${before.rate.toFixed(0)} messages/s, client ${before.cpuMsPerMessage.toFixed(3)} ms CPU per message, endpoint ${before.childMsPerMessage.toFixed(3)} ms`,
    );
    const now = Date.now();
    log(`  ${o.recipients} subscribers: seeding...`);
    const t = await audienceTable(o.ddbEndpoint, o.recipients, now);
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: o.ddbEndpoint,
      tableName: t.tableName,
      sesUrl: ses.url,
      dataDir: join(o.dir, t.tableName),
      workers: o.workers,
      inFlight: o.concurrency,
    });
    await pipeline.idle();
    const warmUp = 1000;
    log(`  warm-up: a weekly digest to ${warmUp} other subscribers...`);
    await seedSubscribers(
      t.doc,
      t.tableName,
      Array.from({ length: warmUp }, (_, i) => ({
        id: `w${String(i).padStart(7, '0')}`,
        frequency: 'weekly' as const,
        confirmedAt: new Date(now - 30 * 86_400_000).toISOString(),
      })),
    );
    const w = await createSend(pipeline.deps, { kind: 'digest', frequency: 'weekly' });
    await waitForSend(t.watcher, w.body.id, (s) => s.status === 'completed', 600_000);
    await pipeline.idle();
    const cpu0 = { own: ownCpuSeconds(), child: await processCpuSeconds(ses.pid), java: await processCpuSeconds(o.ddbPid) };
    const started = performance.now();
    const created = await createSend(pipeline.deps, { kind: 'digest', frequency: 'daily' });
    const send = await waitForSend(t.watcher, created.body.id, finished, 3_600_000);
    const seconds = (performance.now() - started) / 1000;
    const cpu = {
      own: ownCpuSeconds() - cpu0.own,
      child: (await processCpuSeconds(ses.pid)) - cpu0.child,
      java: (await processCpuSeconds(o.ddbPid)) - cpu0.java,
    };
    await pipeline.stop();
    pipeline = undefined;
    const sent = Math.max(1, send.counts.submitted);
    const workerMs = (cpu.own * 1000) / sent;
    log(
      `  pipeline (${send.status}, ${send.counts.submitted} submitted): ${(send.counts.submitted / seconds).toFixed(0)} messages/s, this process ${workerMs.toFixed(3)} ms CPU per email, endpoint ${((cpu.child * 1000) / sent).toFixed(3)} ms, DynamoDB Local ${((cpu.java * 1000) / sent).toFixed(3)} ms`,
    );
    const after = await bare();
    log(
      `  bare loop again: ${after.rate.toFixed(0)} messages/s, client ${after.cpuMsPerMessage.toFixed(3)} ms CPU per message, endpoint ${after.childMsPerMessage.toFixed(3)} ms`,
    );
    const bareMs = (before.cpuMsPerMessage + after.cpuMsPerMessage) / 2;
    return {
      recipients: o.recipients,
      bareMessages: o.bareMessages,
      workerCpuMsPerEmail: round(workerMs, 3),
      bareClientCpuMsPerEmail: round(bareMs, 3),
      workerVsBare: round(workerMs / bareMs),
      endpointCpuMsPerEmail: { pipeline: round((cpu.child * 1000) / sent, 3), bare: round((before.childMsPerMessage + after.childMsPerMessage) / 2, 3) },
      dynamodbLocalCpuMsPerEmail: round((cpu.java * 1000) / sent, 3),
      pipelineMessagesPerSecond: Math.round(send.counts.submitted / seconds),
      bareMessagesPerSecond: Math.round((before.rate + after.rate) / 2),
    };
  } finally {
    await pipeline?.stop();
    await ses.stop();
  }
}

/**
 * One paced run: the pipeline under `deploymentLimits(rate)` (its workers pacing through the account's
 * shared sending instants) against an in-process endpoint enforcing `rate`, both on the same time.
 */
async function pacedRun(o: {
  dir: string;
  ddbEndpoint: string;
  rate: number;
  recipients: number;
  timeFactor: number;
  log: (l: string) => void;
}): Promise<PacedRun> {
  const { rate, recipients, log } = o;
  const time: TimeSource = o.timeFactor === 1 ? systemTime : new ScaledTime(o.timeFactor);
  const pacedRate = deploymentLimits(rate).ses.pacedRate;
  let ses: SesEndpoint | undefined;
  let pipeline: Awaited<ReturnType<typeof startDeliveryPipeline>> | undefined;
  let progress: ReturnType<typeof setInterval> | undefined;
  let startMs: number | undefined;
  let send: Send | undefined;
  // What the endpoint accepted from the send's start, whether or not the send finished.
  const figures = (error?: string): PacedRun => {
    const stats = ses?.stats();
    const at = ses?.acceptedAt ?? [];
    const accepted = stats?.acceptedRecipients ?? 0;
    const t0 = startMs ?? 0;
    const first = at[0] ?? t0;
    const last = at[at.length - 1] ?? t0;
    const seconds = startMs !== undefined && at.length > 0 ? (last - t0) / 1000 : 0;
    const achieved = seconds > 0 ? accepted / seconds : 0;
    return {
      configuredRate: rate,
      pacedRate: round(pacedRate),
      timeFactor: o.timeFactor,
      recipients,
      complete: !error && send !== undefined && finished(send),
      submitted: send?.counts.submitted ?? 0,
      status: send?.status ?? 'not started',
      accepted,
      secondsToLastAccepted: round(seconds, 1),
      secondsToFirstAccepted: startMs !== undefined && at.length > 0 ? round((first - t0) / 1000, 1) : 0,
      achievedPerSecond: round(achieved),
      steadyPerSecond: last > first ? round(((at.length - 1) * 1000) / (last - first)) : 0,
      achievedVsConfiguredPct: round((achieved / rate) * 100, 1),
      achievedVsPacedPct: round((achieved / pacedRate) * 100, 1),
      throttles: stats?.throttledRate ?? 0,
      maxPerSecond: stats?.maxPerSecond ?? 0,
      ...(error ? { error } : {}),
    };
  };
  try {
    log(`paced at ${rate}/s: ${recipients} subscribers${o.timeFactor === 1 ? '' : ` (time ${o.timeFactor}x faster than the wall clock)`}: seeding...`);
    const t = await audienceTable(o.ddbEndpoint, recipients, time.nowMs());
    ses = await startSesEndpoint({ outboxDir: join(o.dir, `paced-${rate}-outbox`), quota: { maxSendRate: rate }, enforceRate: true, time });
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: o.ddbEndpoint,
      tableName: t.tableName,
      sesUrl: ses.url,
      dataDir: join(o.dir, t.tableName),
      maxSendRate: rate,
      time,
    });
    await pipeline.idle();
    startMs = time.nowMs();
    const created = await createSend(pipeline.deps, { kind: 'digest', frequency: 'daily' });
    const endpoint = ses;
    progress = setInterval(() => log(`  ${endpoint.stats().acceptedRecipients}/${recipients} accepted`), 10_000);
    // Waits up to four times the paced duration (and a minute); past that, reports what was accepted so far.
    const limitMs = 4 * (((recipients / pacedRate) * 1000) / o.timeFactor) + 60_000;
    const deadline = Date.now() + limitMs;
    for (;;) {
      send = (await t.watcher.get(created.body.id)) ?? send;
      if ((send && finished(send)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = figures(
      send && finished(send) ? undefined : `not finished after ${Math.round(limitMs / 1000)} s (real): figures over what was accepted by then`,
    );
    log(`  ${JSON.stringify(run)}`);
    return run;
  } catch (e) {
    const error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    log(`  paced run at ${rate}/s failed: ${error}`);
    return figures(error);
  } finally {
    if (progress) clearInterval(progress);
    await pipeline?.stop();
    await ses?.stop();
  }
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
      const seedStart = performance.now();
      await seedDailyAudience(admin, doc, tableName, n, now);
      log(`  seeded in ${((performance.now() - seedStart) / 1000).toFixed(0)} s`);
      const repo = new DynamoArticleRepository(doc, tableName);
      // Watches the send on a client of its own, so the polling is not counted.
      const watcher = new DynamoSendRepository(doc, tableName);
      for (let i = 0; i < 3; i++) await repo.create(article(i, now));
      const counter = new RequestCounter();
      const pipeline = await startDeliveryPipeline({
        dynamoEndpoint: ddb.endpoint,
        tableName,
        sesUrl: ses.url,
        dataDir: join(dir, tableName),
        workers,
        inFlight: concurrency,
        counter,
      });
      await pipeline.idle();
      // Warm-up, as the bare loop has one: a weekly digest to other subscribers (not the measured daily
      // audience), so the measured send does not pay for a cold JVM and JIT in this fresh DynamoDB Local.
      const warmUp = opts.warmUpRecipients ?? 2000;
      if (warmUp > 0) {
        log(`  warm-up: a weekly digest to ${warmUp} other subscribers...`);
        await seedSubscribers(
          doc,
          tableName,
          Array.from({ length: warmUp }, (_, i) => ({
            id: `w${String(i).padStart(7, '0')}`,
            frequency: 'weekly' as const,
            confirmedAt: new Date(now - 30 * 86_400_000).toISOString(),
          })),
        );
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
    // The new measurements come after today's, so they do not change them; each on a fresh DynamoDB Local,
    // as each size above, so one run's data does not weigh on the next.
    const isolatedRecipients = opts.isolatedRecipients ?? 5000;
    const pacedPlan = opts.paced ?? [
      { rate: 14, recipients: 600 },
      { rate: 100, recipients: 4000 },
    ];
    let isolated: IsolatedCpu | undefined;
    if (isolatedRecipients > 0) {
      try {
        ddb = await startDynamoDbLocal();
        isolated = await isolatedCpu({
          dir,
          ddbEndpoint: ddb.endpoint,
          ddbPid: ddb.pid,
          recipients: isolatedRecipients,
          bareMessages: opts.bareMessages ?? 3000,
          concurrency,
          workers,
          log,
        });
      } catch (e) {
        log(`  CPU isolation not measured: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        await ddb?.stop();
        ddb = undefined;
      }
    }
    const paced: PacedRun[] = [];
    for (const p of pacedPlan) {
      ddb = await startDynamoDbLocal();
      paced.push(await pacedRun({ dir, ddbEndpoint: ddb.endpoint, rate: p.rate, recipients: p.recipients, timeFactor: p.timeFactor ?? 1, log }));
      await ddb.stop();
      ddb = undefined;
    }
    const small = runs.find((r) => r.recipients === 10_000);
    const large = runs.find((r) => r.recipients === 100_000);
    return {
      bareLoopMessagesPerSecond: Math.round(bare),
      bareLoopRuns: [Math.round(bareBefore.rate), Math.round(bareAfter.rate)],
      bareCpuMsPerMessage: Math.round(((bareBefore.cpuMsPerMessage + bareAfter.cpuMsPerMessage) / 2) * 100) / 100,
      cpus: availableParallelism(),
      concurrency,
      runs,
      ...(isolated ? { isolatedCpu: isolated } : {}),
      paced,
      ...(small && large
        ? {
            memory100kVs10k: Math.round((large.peakRssMb / small.peakRssMb) * 100) / 100,
            ...(small.peakLiveHeapMb && large.peakLiveHeapMb
              ? { liveHeap100kVs10k: Math.round((large.peakLiveHeapMb / small.peakLiveHeapMb) * 100) / 100 }
              : {}),
          }
        : {}),
      assumptions: [
        'DynamoDB on-demand: requests counted by a middleware on the client; units by AWS rules for items under 1 KB (1 per item written, 2 in a transaction, +1 per GSI entry rewritten; 1 per strongly consistent item read, a missing one included; queries as DynamoDB Local sizes them). Stream reads by Lambda are free.',
        `SQS: one SendMessageBatch per 10 messages (50 recipients each, under 64 KB) plus one ReceiveMessage and one DeleteMessageBatch per worker invocation; idle long polling not counted (a fixed cost, not per email).`,
        `Lambda arm64, ${memoryGb * 1024} MB, ${awsWorkers} workers (the queue's maximum concurrency) paced to the SES rate shown, so each busy for 1000/rate seconds per 1,000 emails; plus about one planner invocation per 1,000 recipients. Locally ${workers} workers share one process.`,
        'Single table; a digest moves each recipient\u2019s digest dates in an item of their own (no index entry rewritten), written 25 to a request.',
        'Everything runs on this machine: the bare loop needs this process only (client and SES endpoint); the pipeline also needs DynamoDB Local (Java). When CPU-bound, the ratio to the bare loop is bounded by bareCpuMsPerMessage / cpuMsPerMessage.total times the CPUs the pipeline can use.',
        'isolatedCpu: the same unpaced pipeline and bare loop against the SES endpoint in a child process, so this process\u2019s CPU (process.cpuUsage) is the worker, planner and clients only (and the bench\u2019s polling of the send), the bare loop\u2019s is SesMailer + SESClient only; the child\u2019s and DynamoDB Local\u2019s CPU read from /proc.',
        'paced: the pipeline under deploymentLimits(rate) (its workers and recipients per message, pacing through the shared sending instants) against an endpoint enforcing the rate; seconds from just before createSend to the arrival of the last accepted message, on the endpoint\u2019s time.',
      ],
    };
  } finally {
    await ses.stop();
    await ddb?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The figures as labelled lines, for `npm run bench` (the JSON follows them). */
export function deliverySummary(f: DeliveryFigures): string[] {
  const usd = (x: number) => `$${x.toFixed(4)}`;
  const out: string[] = [];
  out.push(`  ${f.cpus} CPUs; provider calls in flight: ${f.concurrency} (pipeline and bare loop alike)`);
  out.push(
    `  bare SendRawEmail loop (SES endpoint in this process): ${f.bareLoopMessagesPerSecond} messages/s (runs ${f.bareLoopRuns.join(', ')}), ${f.bareCpuMsPerMessage.toFixed(2)} ms CPU per message (client + endpoint)`,
  );
  for (const r of f.runs) {
    out.push(
      `  ${String(r.recipients).padStart(6)} recipients, unpaced: ${r.messagesPerSecond} messages/s (${r.submitted} in ${r.seconds} s), ${r.vsBare.toFixed(2)}x the bare loop`,
    );
    out.push(
      `         CPU per message: ${r.cpuMsPerMessage.node.toFixed(2)} ms this process (worker, planner, clients, SES endpoint) + ${r.cpuMsPerMessage.dynamodbLocal.toFixed(2)} ms DynamoDB Local = ${r.cpuMsPerMessage.total.toFixed(2)} ms; peak RSS ${r.peakRssMb} MB`,
    );
    out.push(
      `         DynamoDB: ${r.dynamoRequestsPerRecipient} requests per recipient, ${r.readUnitsPerRecipient} RCU + ${r.writeUnitsPerRecipient} WCU per recipient`,
    );
    const c = r.costPer1000;
    const rates = Object.keys(c.totalBySesRate);
    out.push(
      `         cost per 1,000 emails beyond SES's $0.10: DynamoDB ${usd(c.dynamodb)}, SQS ${usd(c.sqs)}, Lambda requests ${usd(c.lambdaRequests)}, Lambda compute ${rates.map((k) => `${usd(c.lambdaComputeBySesRate[k]!)} at ${k}`).join(' / ')}; total ${rates.map((k) => `${usd(c.totalBySesRate[k]!)} at ${k}`).join(' / ')}`,
    );
  }
  const i = f.isolatedCpu;
  if (i) {
    out.push(`  CPU per email, SES endpoint in a child process (process.cpuUsage() of the bench process only):`);
    out.push(
      `    worker:           ${i.workerCpuMsPerEmail.toFixed(3)} ms per email (unpaced send to ${i.recipients}, ${i.pipelineMessagesPerSecond}/s; includes the send worker, the planner, the DynamoDB and SES clients, the bench's status polling; not the SES endpoint, not DynamoDB Local)`,
    );
    out.push(
      `    bare loop client: ${i.bareClientCpuMsPerEmail.toFixed(3)} ms per email (2 x ${i.bareMessages} messages, ${i.bareMessagesPerSecond}/s; includes SesMailer's MIME build and SESClient's SendRawEmail: signing, HTTP, XML; not the SES endpoint)`,
    );
    out.push(`    worker / bare client: ${i.workerVsBare.toFixed(2)}x`);
    out.push(
      `    elsewhere (/proc): SES endpoint child ${i.endpointCpuMsPerEmail.pipeline.toFixed(3)} ms per email under the pipeline, ${i.endpointCpuMsPerEmail.bare.toFixed(3)} under the bare loop; DynamoDB Local ${i.dynamodbLocalCpuMsPerEmail.toFixed(3)} ms per email`,
    );
  } else {
    out.push(`  CPU per email with the SES endpoint in a child process: not measured`);
  }
  if (f.paced.length > 0)
    out.push(`  paced to the account's SES rate (startDeliveryPipeline maxSendRate: deploymentLimits(rate); endpoint quota maxSendRate = rate, enforceRate):`);
  for (const p of f.paced) {
    const time = p.timeFactor === 1 ? 'real time' : `ScaledTime x${p.timeFactor} shared by pipeline and endpoint, seconds and rates on that time`;
    out.push(`    ${String(p.configuredRate).padStart(3)}/s, ${p.recipients} recipients (${time}):${p.error ? ` INCOMPLETE: ${p.error}` : ''}`);
    out.push(
      `         ${p.accepted} accepted (${p.status}, ${p.submitted} submitted); ${p.secondsToLastAccepted} s from the send's start to the last accepted message (first after ${p.secondsToFirstAccepted} s)`,
    );
    out.push(
      `         achieved ${p.achievedPerSecond.toFixed(2)} messages/s = ${p.achievedVsConfiguredPct.toFixed(1)}% of the configured ${p.configuredRate}/s; paced rate the limits allow ${p.pacedRate.toFixed(2)}/s -> ${p.achievedVsPacedPct.toFixed(1)}% of it; steady ${p.steadyPerSecond.toFixed(2)}/s from the first accepted`,
    );
    out.push(`         throttles (rate): ${p.throttles}; endpoint's maxPerSecond: ${p.maxPerSecond} (limit ${Math.max(1, Math.floor(p.configuredRate))})`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await benchDelivery({
    ...(process.env.INKWIRE_BENCH_SIZES ? { sizes: process.env.INKWIRE_BENCH_SIZES.split(',').map(Number) } : {}),
    ...(process.env.INKWIRE_BENCH_WORKERS ? { workers: Number(process.env.INKWIRE_BENCH_WORKERS) } : {}),
  });
  for (const l of deliverySummary(figures)) console.log(l);
  console.log(JSON.stringify(figures, null, 2));
  process.exit(0);
}
