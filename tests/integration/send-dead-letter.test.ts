import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSRecord } from 'aws-lambda';
import { freshTable, sendLedger, sendPartition } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { InProcessQueue, type QueueHandler } from '../../lambdas/local/queue.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { MailerThrottledError, type Mailer } from '../../lambdas/core/email/message.ts';
import { Semaphore } from '../../lambdas/core/sends/pacing.ts';
import type { SendRepository } from '../../lambdas/core/sends/ports.ts';
import { parseBatchMessage } from '../../lambdas/core/sends/model.ts';
import { createSend, getSend, resumeSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { createSendWorkerHandler } from '../../lambdas/handlers/send-worker.ts';
import { createSendDeadLetterHandler } from '../../lambdas/handlers/send-dead-letter.ts';

/**
 * The worker's timeout here (the queue abandons a call still running then, as Lambda does), its reserve
 * and the queue's visibility timeout: test overrides, short so that five receives take seconds.
 */
const INVOCATION_TIMEOUT_MS = 600;
const RESERVE_MS = 100;
const VISIBILITY_MS = 300;

/**
 * A batch the send worker can never finish, end to end: the planner on DynamoDB Local's stream, the
 * in-process queue (5 receives, then its dead-letter list and the `onDeadLetter` hook wired to the send
 * dead-letter handler, as the local runtime wires it), the real worker and the local SES endpoint for
 * every other batch.
 */
describe('a given-up send batch is settled from the dead-letter list, and its send completes', () => {
  let dir: string;
  let ses: SesEndpoint;
  let table: Awaited<ReturnType<typeof freshTable>>;
  let pipeline: Pipeline;
  let queue: InProcessQueue;
  let articleId: string;
  /** Records handed to the dead-letter hook. */
  const given: SQSRecord[] = [];
  /** Recipients whose batch (generation 1) is doomed. */
  const doomed = new Set(['dx1', 'dx2', 'dx3', 'dx4', 'wx1', 'wx2', 'wx3', 'wx4']);
  /** The worker that handles the doomed batches; each test sets its own. */
  let sickWorker: QueueHandler;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-deadletter-'));
    table = await freshTable('deadletter');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'data'),
      settings: { perBatch: 4, reserveMs: RESERVE_MS },
    });

    const settleDeadLetter = createSendDeadLetterHandler(pipeline.deps);
    const worker = createSendWorkerHandler(pipeline.deps);
    queue = new InProcessQueue({
      name: 'send',
      batchSize: 1,
      concurrency: 4,
      maxReceives: 5,
      timeoutMs: INVOCATION_TIMEOUT_MS,
      visibilityTimeoutMs: VISIBILITY_MS,
      onDeadLetter: (record) => {
        given.push(record);
        return settleDeadLetter({ Records: [record] });
      },
    });
    // The planner now fans out through this queue; the pipeline's own queue stays empty.
    pipeline.deps.queue = queue;
    queue.start(async (event, context) => {
      const msg = parseBatchMessage(event.Records[0]!.body)!;
      const isDoomed = msg.generation === 1 && msg.recipients.some(([id]) => doomed.has(id));
      return isDoomed ? sickWorker(event, context) : worker(event, context);
    });

    const a = await createArticle(
      {
        articles: new DynamoArticleRepository(table.doc, table.tableName),
        scheduler: { schedule: async () => undefined, cancel: async () => undefined },
        clock: systemClock,
        site: TEST_SITE,
      },
      {
        title: 'Storm warning',
        body: 'Stay indoors.',
        bodyFormat: 'markdown',
        authors: [],
        tags: [],
        status: 'published',
        publishAt: new Date(Date.now() - 30 * 3_600_000).toISOString(),
      },
    );
    articleId = a.body.id;
    // Each test's audience is one frequency: four healthy recipients (first batch), four doomed ones (second batch).
    await seedSubscribers(table.doc, table.tableName, [
      ...['dh1', 'dh2', 'dh3', 'dh4', 'dx1', 'dx2', 'dx3', 'dx4'].map((id) => ({ id, frequency: 'daily' as const })),
      ...['wh1', 'wh2', 'wh3', 'wh4', 'wx1', 'wx2', 'wx3', 'wx4'].map((id) => ({ id, frequency: 'weekly' as const })),
    ]);
  });

  afterAll(async () => {
    await queue?.stop();
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A worker instance whose SES calls never answer for `hangFor` (and are throttled for everyone else when
   * `throttleOthers`), with two call slots; the queue abandons its invocation at the timeout with the calls
   * still in flight. `claimFailsFor`: recipients whose claim write fails (a table outage at that exact
   * write, which DynamoDB Local cannot produce: a stand-in names it), so they are never claimed.
   */
  function workerWithStuckSes(
    hangFor: (address: string) => boolean,
    throttleOthers: boolean,
    claimFailsFor: (id: string) => boolean = () => false,
  ): QueueHandler {
    const sesThatNeverAnswers: Mailer = {
      getSendQuota: () => pipeline.deps.mailer.getSendQuota(),
      send: (email) => {
        if (hangFor(email.to.address)) return new Promise(() => undefined);
        if (throttleOthers) return Promise.reject(new MailerThrottledError('Maximum sending rate exceeded.'));
        return pipeline.deps.mailer.send(email);
      },
    };
    const real = pipeline.deps.sends;
    const sends: SendRepository = Object.assign(Object.create(real) as SendRepository, {
      claimDelivery: (record: Parameters<SendRepository['claimDelivery']>[0]) =>
        claimFailsFor(record.subscriberId) ? Promise.reject(new Error('simulated: the table refused the claim write')) : real.claimDelivery(record),
    });
    return createSendWorkerHandler({
      ...pipeline.deps,
      sends,
      mailer: sesThatNeverAnswers,
      providerSlots: new Semaphore(2),
      settings: { ...pipeline.deps.settings, maxRetries: 0 },
    });
  }

  async function idle(): Promise<void> {
    for (;;) {
      await pipeline.planner.idle();
      await queue.idle();
      await pipeline.planner.idle();
      const s = queue.stats();
      if (s.visible + s.delayed + s.inFlight === 0) return;
    }
  }

  const ledger = (sendId: string) => sendLedger(table.doc, table.tableName, sendId);
  const partition = (sendId: string) => sendPartition(table.doc, table.tableName, sendId);
  const states = (l: Map<string, Record<string, unknown>>, ids: string[]) =>
    Object.fromEntries(ids.map((id) => [id, `${l.get(id)?.state}/${l.get(id)?.code ?? ''}`]));

  it('reports the recipient in flight uncertain and the never-claimed ones failed, completes the send, and a dead letter handled again changes nothing', async () => {
    // The doomed batch's calls to SES for dx1 and dx2 never answer (both call slots stay busy); the claims
    // of dx3 and dx4 fail on every later receive, so they are never claimed.
    sickWorker = workerWithStuckSes(
      (address) => address === 'dx1@example.org' || address === 'dx2@example.org',
      false,
      (id) => id === 'dx3' || id === 'dx4',
    );
    const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'daily' });
    const id = created.body.id;

    const done = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'completed', 30_000);
    await idle();
    expect(queue.deadLetters.map((d) => [parseBatchMessage(d.body)?.sendId, parseBatchMessage(d.body)?.batchId, d.receives])).toEqual([[id, '0.1', 5]]);
    expect(given.map((r) => [r.attributes.ApproximateReceiveCount, r.eventSourceARN])).toEqual([['5', 'arn:aws:sqs:local:000000000000:send-dead-letter']]);

    expect(done.counts).toEqual({ planned: 8, submitted: 4, failed: 2, suppressed: 0, skipped: 0, uncertain: 2 });
    expect(done.batchesDone).toBe(2);
    const l = await ledger(id);
    expect(states(l, ['dh1', 'dh2', 'dh3', 'dh4', 'dx1', 'dx2', 'dx3', 'dx4'])).toEqual({
      dh1: 'submitted/',
      dh2: 'submitted/',
      dh3: 'submitted/',
      dh4: 'submitted/',
      dx1: 'uncertain/InFlightAtGiveUp',
      dx2: 'uncertain/InFlightAtGiveUp',
      dx3: 'failed/GivenUp',
      dx4: 'failed/GivenUp',
    });
    expect(l.get('dx3')!.detail).toBe('its batch was given up after 5 attempts before this recipient was sent; a resume tries it again');
    const view = await getSend(pipeline.deps, id);
    expect(view.errors.map((e) => [e.code, e.count]).sort()).toEqual([
      ['GivenUp', 2],
      ['InFlightAtGiveUp', 2],
    ]);
    const outbox = await outboxByRecipient(ses.outboxDir);
    for (const r of ['dh1', 'dh2', 'dh3', 'dh4']) expect(outbox.get(`${r}@example.org`), r).toBe(1);
    for (const r of ['dx1', 'dx2', 'dx3', 'dx4']) expect(outbox.get(`${r}@example.org`), r).toBeUndefined();

    // SQS delivers at least once: the same dead letter again changes nothing.
    const before = await partition(id);
    expect(await createSendDeadLetterHandler(pipeline.deps)({ Records: [given[0]!] })).toEqual({ batchItemFailures: [] });
    expect(await partition(id)).toEqual(before);

    // The send completed with failures: a resume tries the failed recipients again, once, and never the uncertain ones.
    expect((await resumeSend(pipeline.deps, id)).status).toBe('planning');
    const again = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'completed' && s.generation === 2, 30_000);
    await idle();
    expect(again.counts).toEqual({ planned: 8, submitted: 6, failed: 0, suppressed: 0, skipped: 0, uncertain: 2 });
    const after = await outboxByRecipient(ses.outboxDir);
    for (const r of ['dh1', 'dh2', 'dh3', 'dh4', 'dx3', 'dx4']) expect(after.get(`${r}@example.org`), r).toBe(1);
    for (const r of ['dx1', 'dx2']) expect(after.get(`${r}@example.org`), r).toBeUndefined();
    // Within the report window (SES's Send event for them may still come) a resume sends the uncertain ones nothing...
    sickWorker = workerWithStuckSes(() => false, false);
    expect((await resumeSend(pipeline.deps, id)).status).toBe('planning');
    const third = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'completed' && s.generation === 3, 30_000);
    await idle();
    expect(third.counts).toEqual({ planned: 8, submitted: 6, failed: 0, suppressed: 0, skipped: 0, uncertain: 2 });
    for (const r of ['dx1', 'dx2']) expect((await outboxByRecipient(ses.outboxDir)).get(`${r}@example.org`), r).toBeUndefined();
    // ...unless the publisher chooses to send to the uncertain ones again, knowing they may get it twice.
    expect((await resumeSend(pipeline.deps, id, { retryUncertain: true })).status).toBe('planning');
    const fourth = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'completed' && s.generation === 4, 30_000);
    await idle();
    expect(fourth.counts).toEqual({ planned: 8, submitted: 8, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
    const last = await outboxByRecipient(ses.outboxDir);
    for (const r of ['dh1', 'dh2', 'dh3', 'dh4', 'dx1', 'dx2', 'dx3', 'dx4']) expect(last.get(`${r}@example.org`), r).toBe(1);
    expect((await ledger(id)).get('dx1')).toMatchObject({ state: 'submitted', generation: 4, retriedFrom: 'uncertain' });
  }, 60_000);

  it('pauses a send the given-up batch pushes past the error threshold; a resume then sends to the failed recipients exactly once and leaves the uncertain one alone', async () => {
    // wx1's call never answers; SES throttles wx2..wx4 every time, so their claims are given back (pending).
    sickWorker = workerWithStuckSes((address) => address === 'wx1@example.org', true);
    const threshold = pipeline.deps.settings.errorMinAttempts;
    pipeline.deps.settings.errorMinAttempts = 8;
    try {
      const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'weekly' });
      const id = created.body.id;

      const paused = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'paused', 30_000);
      await idle();
      expect(paused.reason).toMatch(
        /^3 of 8 attempts failed \(37\.5%\), above the 5% threshold; most frequent error: GivenUp \(3x\): its batch was given up after 5 attempts .*resume/,
      );
      expect(states(await ledger(id), ['wx1', 'wx2', 'wx3', 'wx4'])).toEqual({
        wx1: 'uncertain/InFlightAtGiveUp',
        wx2: 'failed/GivenUp',
        wx3: 'failed/GivenUp',
        wx4: 'failed/GivenUp',
      });
      const dead = given.find((r) => parseBatchMessage(r.body)?.sendId === id)!;
      expect(dead.attributes.ApproximateReceiveCount).toBe('5');

      const resumed = await resumeSend(pipeline.deps, id);
      expect(resumed.status).toBe('planning');
      const done = await waitForSend(pipeline.deps.sends, id, (s) => s.status === 'completed', 30_000);
      await idle();
      expect(done.counts).toEqual({ planned: 8, submitted: 7, failed: 0, suppressed: 0, skipped: 0, uncertain: 1 });
      const outbox = await outboxByRecipient(ses.outboxDir);
      for (const r of ['wh1', 'wh2', 'wh3', 'wh4', 'wx2', 'wx3', 'wx4']) expect(outbox.get(`${r}@example.org`), r).toBe(1);
      expect(outbox.get('wx1@example.org')).toBeUndefined();
      const l = await ledger(id);
      expect(l.get('wx1')).toMatchObject({ state: 'uncertain', code: 'InFlightAtGiveUp', generation: 1 });
      expect(l.get('wx2')).toMatchObject({ state: 'submitted', generation: 2, retriedFrom: 'failed' });

      // The generation-1 dead letter, handled again after the resume, changes nothing.
      const before = await partition(id);
      expect(await createSendDeadLetterHandler(pipeline.deps)({ Records: [dead] })).toEqual({ batchItemFailures: [] });
      expect(await partition(id)).toEqual(before);
    } finally {
      pipeline.deps.settings.errorMinAttempts = threshold;
    }
  }, 60_000);
});
