/**
 * The local stand-in for an event source mapping: DynamoDB Local's stream, filtered, with a checkpoint
 * file so a restart goes on where the last poller stopped.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { freshTable } from '../support/dynamo.ts';
import { StreamPoller, streamConsumerOptionsFrom, type StreamConsumer, type StreamFailure } from '../../lambdas/local/stream-poller.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { ScaledTime } from '../../lambdas/core/clock.ts';
import { deploymentLimits } from '../../infra/limits.ts';

const pkOf = (r: DynamoDBRecord) => String(r.dynamodb?.Keys?.PK?.S);

describe('stream poller', () => {
  it('hands each matching record to the consumer once, and a restart goes on from the checkpoint saved at stop', async () => {
    const { client, doc, tableName, endpoint } = await freshTable('poller');
    const dir = await mkdtemp(join(tmpdir(), 'inkwire-poller-'));
    const streams = new DynamoDBStreamsClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const seen: string[] = [];
    const poller = () =>
      new StreamPoller({
        ddb: client,
        streams,
        tableName,
        checkpointFile: join(dir, 'checkpoint.json'),
        consumer: {
          name: 'test',
          filter: { dynamodb: { Keys: { PK: { S: [{ prefix: 'KEEP#' }] } } } },
          batchSize: 100,
          handler: async (e: { Records: DynamoDBRecord[] }) => void seen.push(...e.Records.map((r) => String(r.dynamodb?.Keys?.PK?.S))),
        },
        pollMs: 20,
        log: () => undefined,
      });
    const put = (pk: string) => doc.send(new PutCommand({ TableName: tableName, Item: { PK: pk, SK: 'X', entity: 'test' } }));
    try {
      const first = poller();
      await first.start();
      for (let i = 0; i < 30; i++) await put(i % 3 === 0 ? `SKIP#${i}` : `KEEP#${i}`);
      await first.idle();
      await first.stop();
      expect(seen).toHaveLength(20);
      expect(JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')).shards).not.toEqual({});

      const second = poller();
      await second.start();
      await put('KEEP#after');
      await second.idle();
      await second.stop();
      // Nothing handed over twice: the second poller started after the first one's last record.
      expect(seen).toHaveLength(21);
      expect(seen.at(-1)).toBe('KEEP#after');
    } finally {
      streams.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('under the consumer\u2019s limits (on a ScaledTime 100 times faster than real time)', () => {
    /** A fresh table and a poller on it for `consumer`; `stop()` cleans up. */
    async function setUp(consumer: Omit<StreamConsumer, 'name' | 'filter'>, more: { onFailure?: (f: StreamFailure) => unknown } = {}) {
      const { client, doc, tableName, endpoint } = await freshTable('poller-limits');
      const dir = await mkdtemp(join(tmpdir(), 'inkwire-poller-'));
      const streams = new DynamoDBStreamsClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
      const time = new ScaledTime(100);
      const poller = new StreamPoller({
        ddb: client,
        streams,
        tableName,
        checkpointFile: join(dir, 'checkpoint.json'),
        consumer: { name: 'test', filter: { dynamodb: { Keys: { PK: { S: [{ prefix: 'KEEP#' }] } } } }, ...consumer },
        pollMs: 2_000,
        time,
        log: () => undefined,
        ...more,
      });
      await poller.start();
      return {
        poller,
        time,
        put: (pk: string) => doc.send(new PutCommand({ TableName: tableName, Item: { PK: pk, SK: 'X' } })),
        putAll: (pks: string[]) =>
          doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pks.map((PK) => ({ PutRequest: { Item: { PK, SK: 'X' } } })) } })),
        stop: async () => {
          await poller.stop();
          streams.destroy();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }

    it('maps StreamConsumerLimits to consumer options in milliseconds', () => {
      const l = deploymentLimits(14).feedRebuild;
      expect(StreamPoller.optionsFrom).toBe(streamConsumerOptionsFrom);
      expect(streamConsumerOptionsFrom(l)).toEqual({ batchSize: 100, maxBatchingWindowMs: 2000, retryAttempts: 5, timeoutMs: 120_000 });
    });

    it('reads back the limits it runs its consumer with', async () => {
      const env = await setUp({ ...streamConsumerOptionsFrom(deploymentLimits(14).sendPlanner), handler: async () => undefined });
      try {
        expect(env.poller.emulation).toEqual({ batchSize: 10, maxBatchingWindowMs: 0, retryAttempts: 5, timeoutMs: 120_000 });
      } finally {
        await env.stop();
      }
    });

    it('calls with at most batchSize records, and gathers fewer for up to the batching window', async () => {
      const calls: { pks: string[]; at: number }[] = [];
      let time!: ScaledTime;
      const env = await setUp({
        batchSize: 3,
        maxBatchingWindowMs: 10_000,
        handler: async (e) => void calls.push({ pks: e.Records.map(pkOf), at: time.nowMs() }),
      });
      time = env.time;
      try {
        await env.putAll(['KEEP#1', 'KEEP#2', 'SKIP#3', 'KEEP#4', 'KEEP#5', 'KEEP#6', 'KEEP#7']);
        await env.poller.idle();
        expect(calls.map((c) => c.pks)).toEqual([
          ['KEEP#1', 'KEEP#2', 'KEEP#4'],
          ['KEEP#5', 'KEEP#6', 'KEEP#7'],
        ]);

        // Two records written a little apart, within one window: one call with both, once the window is over.
        const wroteAt = time.nowMs();
        await env.put('KEEP#a');
        await env.put('KEEP#b');
        await env.poller.idle();
        expect(calls.slice(2).map((c) => c.pks)).toEqual([['KEEP#a', 'KEEP#b']]);
        expect(calls[2]!.at - wroteAt).toBeGreaterThanOrEqual(10_000);
        // ... and not much later (a poll every 2 seconds of this time).
        expect(calls[2]!.at - wroteAt).toBeLessThan(100_000);
      } finally {
        await env.stop();
      }
    });

    it('retries a failed batch retryAttempts times, then hands its records to the on-failure destination and goes on', async () => {
      const attempts: string[] = [];
      const destination: StreamFailure[] = [];
      const env = await setUp(
        {
          batchSize: 10,
          // Gathers the three records into one batch however the stream hands them over.
          maxBatchingWindowMs: 20_000,
          retryAttempts: 2,
          handler: async (e) => {
            attempts.push(e.Records.map(pkOf).join(','));
            // Reports the poison record (and so everything after it) as failed.
            const bad = e.Records.find((r) => pkOf(r) === 'KEEP#bad');
            return { batchItemFailures: bad ? [{ itemIdentifier: bad.dynamodb!.SequenceNumber! }] : [] };
          },
        },
        { onFailure: (f) => void destination.push(f) },
      );
      try {
        await env.putAll(['KEEP#ok', 'KEEP#bad', 'KEEP#after']);
        await env.poller.idle();
        expect(attempts).toEqual(['KEEP#ok,KEEP#bad,KEEP#after', 'KEEP#bad,KEEP#after', 'KEEP#bad,KEEP#after']);
        expect(destination.map((f) => [f.records.map(pkOf), f.attempts, f.reason])).toEqual([[['KEEP#bad', 'KEEP#after'], 3, 'reported']]);
        expect(env.poller.failed).toEqual(destination);
        // The poller goes on with the records after the batch.
        await env.put('KEEP#next');
        await env.poller.idle();
        expect(attempts.at(-1)).toBe('KEEP#next');
      } finally {
        await env.stop();
      }
    });

    it('abandons a call past the timeout as a failed attempt, kills its instance, and retries on a fresh one', async () => {
      const used: number[] = [];
      const killed: number[] = [];
      const left: number[] = [];
      let made = 0;
      const env = await setUp({
        batchSize: 10,
        timeoutMs: 5_000,
        retryAttempts: 1,
        handler: {
          instance: () => {
            const id = ++made;
            return {
              handler: async (_e, context) => {
                used.push(id);
                left.push(context.getRemainingTimeInMillis());
                if (id === 1) await new Promise(() => undefined);
              },
              kill: () => void killed.push(id),
            };
          },
        },
      });
      try {
        await env.put('KEEP#slow');
        await env.poller.idle();
        expect(used).toEqual([1, 2]);
        expect(killed).toEqual([1]);
        expect(env.poller.instancesCreated).toBe(2);
        expect(env.poller.failed).toEqual([]);
        for (const l of left) expect(l).toBeLessThanOrEqual(5_000);
        // The next batch runs on the instance that did not time out.
        await env.put('KEEP#next');
        await env.poller.idle();
        expect(used).toEqual([1, 2, 2]);
      } finally {
        await env.stop();
      }
    });
  });
});
