import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type PipelineOptions } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { recentSendEvents, snsEnvelope } from '../../lambdas/local/mailbox-simulator.ts';
import { createSesEventsHandler } from '../../lambdas/handlers/ses-events.ts';
import { providerEventDeps } from '../../lambdas/compose/provider-events.ts';
import { resumeSend } from '../../lambdas/core/sends/use-cases.ts';

const RECIPIENTS = 2000;
const HARNESS = join(import.meta.dirname, '..', 'support', 'delivery-harness.ts');

/** One sending process: the delivery pipeline in a child process, against the shared DynamoDB Local and SES endpoint. */
function startSender(config: PipelineOptions, log: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HARNESS], {
    env: { ...process.env, INKWIRE_PIPELINE: JSON.stringify(config), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(child);
    });
    child.once('exit', (code, signal) => reject(new Error(`sender exited before it was ready (${code ?? signal}): ${log.join('').slice(-2000)}`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('a sending process killed with SIGKILL at random points during a 2,000-recipient send (real child processes)', () => {
  let dir: string;
  let ses: SesEndpoint;
  let table: Awaited<ReturnType<typeof freshTable>>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-faults-'));
    table = await freshTable('faults');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
    await seedSubscribers(
      table.doc,
      table.tableName,
      Array.from({ length: RECIPIENTS }, (_, i) => ({ id: `k${String(i).padStart(4, '0')}` })),
    );
  });

  afterAll(async () => {
    for (const c of children) await killHard(c);
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('ends with every recipient mailed exactly once or reported uncertain, never twice', async () => {
    const sends = new DynamoSendRepository(table.doc, table.tableName);
    const article = await createArticle(
      {
        articles: new DynamoArticleRepository(table.doc, table.tableName),
        scheduler: { schedule: async () => undefined, cancel: async () => undefined },
        clock: systemClock,
        site: TEST_SITE,
      },
      { title: 'Bridge closed', body: 'Traffic is diverted.', bodyFormat: 'markdown', authors: [], tags: [], status: 'published' },
    );
    const sendId = `alert-${article.body.id}`;
    const config: PipelineOptions = {
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: ses.url,
      dataDir: join(dir, 'sender'),
      maxSendRate: 100,
      workers: 2,
      inFlight: 8,
      callLog: join(dir, 'calls.log'),
    };
    const log: string[] = [];
    const random = () => Math.random();
    const killedAt: number[] = [];

    // Three kills: one at a random moment after start (it may land while planning), two at random points of progress.
    for (let k = 0; k < 3; k++) {
      const child = await startSender(config, log);
      children.push(child);
      // The endpoint's own count (reading the outbox folder every few milliseconds would load the machine).
      const accepted = () => ses.stats().acceptedRecipients;
      const before = accepted();
      if (k === 0) await new Promise((r) => setTimeout(r, 200 + random() * 1500));
      else {
        const target = before + 100 + Math.floor(random() * 300);
        const deadline = Date.now() + 20_000;
        while (accepted() < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, random() * 50));
      }
      await killHard(child);
      killedAt.push(accepted());
    }
    expect(
      killedAt.some((n) => n > 0 && n < RECIPIENTS),
      `outbox sizes at the kills: ${killedAt.join(', ')}`,
    ).toBe(true);

    // The last process runs to the end; it re-drives the send it finds active.
    const last = await startSender(config, log);
    children.push(last);
    const send = await waitForSend(sends, sendId, (s) => s.status === 'completed', 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nsender log:\n${log.join('').slice(-3000)}`);
    });
    await killHard(last);

    const records = new Map<string, string>();
    let start: Record<string, unknown> | undefined;
    do {
      const page = await table.doc.send(
        new QueryCommand({
          TableName: table.tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :d)',
          ExpressionAttributeValues: { ':pk': `SEND#${sendId}`, ':d': 'D#' },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const d of page.Items ?? []) records.set(`${d.subscriberId as string}@example.org`, d.state as string);
      start = page.LastEvaluatedKey;
    } while (start);

    const outbox = await outboxByRecipient(ses.outboxDir);
    expect(records.size).toBe(RECIPIENTS);
    const twice = [...outbox].filter(([, n]) => n > 1);
    expect(twice, 'nobody gets the email twice').toEqual([]);
    for (const [address, state] of records) {
      const n = outbox.get(address) ?? 0;
      if (state === 'submitted') expect(n, address).toBe(1);
      else expect(state, `${address} got ${n} message(s) and is ${state}`).toBe('uncertain');
    }
    // A claim is written right before its provider call, with a call slot held, so a recipient reported
    // uncertain is one whose call had started (the sending processes wrote each address to a log,
    // synchronously, just before calling SES), or one whose claim's write had reached DynamoDB when the kill
    // came and its acknowledgement had not come back: at most one per call slot. Seen here: a few per kill,
    // on a loaded machine. The engine used to claim up to a second's worth of recipients (100 at this rate)
    // ahead of their calls, and report every one left unsent uncertain.
    const called = new Set((await readFile(join(dir, 'calls.log'), 'utf8')).split('\n').filter(Boolean));
    const neverCalled = [...records].filter(([address, state]) => state === 'uncertain' && !called.has(address)).map(([a]) => a);
    const slots = config.workers! * config.inFlight!;
    expect(neverCalled.length, `uncertain although their call never started: ${neverCalled.join(', ')}`).toBeLessThanOrEqual(slots * killedAt.length);
    const uncertain = [...records.values()].filter((s) => s === 'uncertain').length;
    expect(send.counts.submitted + send.counts.uncertain).toBe(RECIPIENTS);
    expect(send.counts.uncertain).toBe(uncertain);
    expect(send.counts.planned).toBe(RECIPIENTS);
    console.info(
      `kills at outbox sizes ${killedAt.join(', ')}; ${uncertain} recipient(s) reported uncertain (${neverCalled.length} whose call had not started), ${[...outbox.values()].length} mailed once`,
    );

    // SES publishes a Send event for every call it accepted (read back here from the endpoint's outbox, as
    // the local runtime does at start). The SES events consumer settles with them every uncertain recipient
    // whose call reached SES; those left uncertain are exactly the ones it never got.
    const events = await recentSendEvents(ses.outboxDir, new Date(0));
    expect(events).toHaveLength(outbox.size);
    const consume = createSesEventsHandler(
      providerEventDeps(
        { DEFAULT_FREQUENCY: 'weekly', SOFT_BOUNCE_THRESHOLD: 3 },
        table.doc,
        table.tableName,
        systemClock,
        randomBytes(32).toString('base64url'),
        undefined,
        () => undefined,
      ),
    );
    const deliver = async () => {
      for (let i = 0; i < events.length; i += 10) {
        const records = events.slice(i, i + 10).map((e, j) => ({ messageId: `m${i + j}`, body: snsEnvelope(e, new Date()) }) as SQSRecord);
        expect((await consume({ Records: records })).batchItemFailures).toEqual([]);
      }
    };
    await deliver();
    const settled = (await sends.get(sendId))!;
    expect(settled.counts.submitted).toBe(outbox.size);
    expect(settled.counts.uncertain).toBe(RECIPIENTS - outbox.size);
    // SNS may deliver an event twice: nothing moves.
    await deliver();
    expect((await sends.get(sendId))!.counts).toEqual(settled.counts);

    // A resume sends to recipients whose call never reached SES (no Send event within the report window;
    // a test override of 0 stands in for the 15 minutes), exactly once each; no one else gets it again.
    const notReached = RECIPIENTS - outbox.size;
    console.info(`${notReached} recipient(s) never reached SES`);
    if (notReached > 0) {
      const resumer = await startDeliveryPipeline({ ...config, dataDir: join(dir, 'resumer'), callLog: undefined, settings: { reportWindowMs: 0 } });
      try {
        await resumeSend(resumer.deps, sendId);
        const done = await waitForSend(sends, sendId, (s) => s.status === 'completed' && s.generation > settled.generation, 60_000);
        const final = await outboxByRecipient(ses.outboxDir);
        expect(final.size).toBe(RECIPIENTS);
        expect([...final].filter(([, n]) => n > 1)).toEqual([]);
        expect(done.counts).toMatchObject({ submitted: RECIPIENTS, uncertain: 0, failed: 0 });
      } finally {
        await resumer.stop();
      }
    }
  }, 180_000);
});
