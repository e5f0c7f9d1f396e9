/**
 * The deployment, simulated: the real handlers (planner on DynamoDB Local's stream, the send worker on the
 * in-process queue), DynamoDB Local and the local SES endpoint through the real SESClient, all under the
 * limits a deployment at that SES rate gets (infra/limits.ts: the worker's timeout and reserve, the queue's
 * batch size, maximum concurrency, visibility timeout and receive count, the planner's limits), with the
 * endpoint enforcing the account's rate as SES does (Throttling above it).
 *
 * What runs on a controlled clock: everything that waits or times (the queue's timeouts and visibility, the
 * stream poller, the pacing, the engine's clock, the endpoint's rate window) runs on one `ScaledTime`, a
 * clock running N times as fast as the wall clock, so a 200-second send takes 200 / N real seconds. What
 * does not: DynamoDB Local and HTTP take real time, which on the scaled clock looks N times longer. The
 * runs at 1/s and 14/s are twice as fast as real time (harder on the engine than real time); the run at
 * 100/s is half as fast, because this one machine stands in for Lambda, DynamoDB and SES at once.
 *
 * Timing is the point of these tests, so they run alone, one file at a time, after the rest of the suite
 * (`vitest.simulation.config.ts`, the second half of `npm test`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { ScaledTime } from '../../lambdas/core/clock.ts';
import { createSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { deploymentLimits } from '../../infra/limits.ts';

interface Scenario {
  recipients: number;
  rate: number;
  /** How much faster than the wall clock the simulation runs. */
  factor: number;
}

const SCENARIOS: Scenario[] = [
  { recipients: 200, rate: 1, factor: 2 },
  { recipients: 2_000, rate: 14, factor: 2 },
  // On a clock at half the wall clock's speed: here the workers, DynamoDB Local, the SES endpoint and the
  // test share two CPUs that in AWS are separate machines, and 100 messages a second is about all of them
  // together (112% of the ideal time measured in real time on an idle machine, far more on a busy one).
  { recipients: 10_000, rate: 100, factor: 0.5 },
];

describe.each(SCENARIOS)('a send of $recipients at $rate/s under the deployment limits (time $factor x faster)', ({ recipients, rate, factor }) => {
  let dir: string;
  let ses: SesEndpoint;
  let pipeline: Pipeline;
  let table: Awaited<ReturnType<typeof freshTable>>;
  const time = new ScaledTime(factor);
  const limits = deploymentLimits(rate);
  const log: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-simulation-'));
    table = await freshTable('simulation');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox'), quota: { maxSendRate: rate }, enforceRate: true, time });
    await seedSubscribers(
      table.doc,
      table.tableName,
      Array.from({ length: recipients }, (_, i) => ({ id: `m${String(i).padStart(5, '0')}` })),
    );
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'data'),
      maxSendRate: rate,
      limits,
      time,
      log: (m) => log.push(`${time.now().toISOString()} ${m}`),
    });
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('completes: nobody given up, nobody mailed twice, no second above the rate, within 1.15x of recipients / rate', async () => {
    const articles = new DynamoArticleRepository(table.doc, table.tableName);
    // Published more than a day ago: no automatic alert; the send below is the only mail.
    const a = await createArticle(
      { articles, scheduler: { schedule: async () => undefined, cancel: async () => undefined }, clock: time, site: TEST_SITE },
      {
        title: 'Council votes',
        body: 'The budget passed.',
        bodyFormat: 'markdown',
        authors: [],
        tags: [],
        status: 'published',
        publishAt: new Date(time.nowMs() - 30 * 3_600_000).toISOString(),
      },
    );
    const created = await createSend(pipeline.deps, { kind: 'article', articleId: a.body.id, frequency: 'instant' });
    const ideal = (recipients / rate) * 1000;
    const done = await waitForSend(
      pipeline.deps.sends,
      created.body.id,
      (s) => s.status === 'completed' || s.status === 'paused' || s.status === 'expired',
      (ideal * 2) / factor + 60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${log.slice(-20).join('\n')}`);
    });
    await pipeline.idle();

    expect(done.status, done.reason).toBe('completed');
    expect(done.counts).toMatchObject({ planned: recipients, submitted: recipients, failed: 0, uncertain: 0 });
    expect(pipeline.queue.deadLetters, 'no batch given up').toEqual([]);
    const outbox = await outboxByRecipient(ses.outboxDir);
    expect(outbox.size).toBe(recipients);
    expect(
      [...outbox.values()].filter((n) => n > 1),
      'nobody mailed twice',
    ).toEqual([]);
    const stats = ses.stats();
    expect(stats.maxPerSecond, 'no one-second window above the rate').toBeLessThanOrEqual(Math.max(1, Math.floor(rate)));
    // From the send's start to its last message accepted by SES: when the mail is out. (Counting the ledger
    // afterwards, to complete the send, is reported too.)
    const started = new Date(done.startedAt!).getTime();
    const took = Math.max(...ses.acceptedAt) - started;
    const settledAfter = new Date(done.completedAt!).getTime() - started;
    console.info(
      `${recipients} at ${rate}/s: ${(took / 1000).toFixed(1)} s simulated to the last message (${((took / ideal) * 100).toFixed(1)}% of recipients / rate), completed after ${(settledAfter / 1000).toFixed(1)} s, ` +
        `${stats.throttledRate} throttled by the rate, ${pipeline.queue.invocations} worker invocations, ${pipeline.queue.abandoned} abandoned at the timeout, ` +
        `${log.filter((l) => l.includes('handed on')).length} hand-on(s), ${limits.sendWorker.recipientsPerMessage} recipients per message, ${limits.sendWorker.maximumConcurrency} workers`,
    );
    expect(took, `took ${took} ms for an ideal ${ideal} ms`).toBeLessThanOrEqual(ideal * 1.15);
  }, 600_000);
});
