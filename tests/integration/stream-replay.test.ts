/**
 * Stream batches given up on for good land where they can be replayed: locally a folder in the shape Lambda
 * writes to its S3 on-failure destination, in AWS that bucket; `npm run replay-failed` hands them to the
 * same handlers again.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { freshTable } from '../support/dynamo.ts';
import { StreamPoller } from '../../lambdas/local/stream-poller.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { LocalFailedBatches } from '../../lambdas/local/failed-batches.ts';
import { parseStreamFailure } from '../../lambdas/adapters/stream-failures.ts';
import { replayBucket, type ReplayClients } from '../../lambdas/ops/replay-failed.ts';

const pks = (e: DynamoDBStreamEvent) => e.Records.map((r) => String(r.dynamodb?.Keys?.PK?.S));

describe('stream batches given up on', () => {
  it('are kept in Lambda\u2019s on-failure format when the handler fails past its retries, and a replay through the handler removes them', async () => {
    const { client, doc, tableName, endpoint } = await freshTable('replay');
    const dir = await mkdtemp(join(tmpdir(), 'inkwire-replay-'));
    const streams = new DynamoDBStreamsClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const store = new LocalFailedBatches(join(dir, 'failed-batches'));
    let broken = true;
    const handled: string[] = [];
    const handler = async (e: DynamoDBStreamEvent) => {
      if (broken) throw new Error('the document store is down');
      handled.push(...pks(e));
    };
    const poller = new StreamPoller({
      ddb: client,
      streams,
      tableName,
      checkpointFile: join(dir, 'checkpoint.json'),
      // Test override: one retry instead of the feed rebuilder's five, so the batch is given up at once.
      consumer: { name: 'feed-rebuild', filter: { dynamodb: { Keys: { PK: { S: [{ prefix: 'FEED#' }] } } } }, batchSize: 10, retryAttempts: 1, handler },
      onFailure: (f) => store.put(f, new Date()),
      pollMs: 20,
      log: () => undefined,
    });
    try {
      await poller.start();
      await doc.send(new PutCommand({ TableName: tableName, Item: { PK: 'FEED#site', SK: 'X', entity: 'test' } }));
      await poller.idle();
      await poller.stop();

      const [key, ...others] = await store.keys();
      expect(others).toEqual([]);
      const batch = parseStreamFailure(await readFile(join(dir, 'failed-batches', key!), 'utf8'))!;
      expect(batch).toMatchObject({ functionName: 'feed-rebuild', records: 1 });
      expect(pks(batch.event)).toEqual(['FEED#site']);
      expect(JSON.parse(await readFile(join(dir, 'failed-batches', key!), 'utf8'))).toMatchObject({
        version: '1.0',
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
      });

      // Still broken: the replay reports it and keeps it.
      const again = await store.replay({ 'feed-rebuild': handler });
      expect(again.failed).toEqual([{ key, function: 'feed-rebuild', error: 'the document store is down' }]);
      expect(await store.keys()).toEqual([key]);

      // Fixed: the replay hands the records to the handler and removes the batch.
      broken = false;
      const done = await store.replay({ 'feed-rebuild': handler, 'send-planner': handler });
      expect(done).toEqual({ replayed: [{ key, function: 'feed-rebuild', records: 1 }], failed: [], skipped: [] });
      expect(handled).toEqual(['FEED#site']);
      expect(await readdir(join(dir, 'failed-batches'))).toEqual([]);
    } finally {
      streams.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('in AWS are read from the on-failure bucket, invoked on the function that failed them, and deleted once taken (recording clients stand in for S3 and Lambda, which have no local stand-in)', async () => {
    // The shape Lambda writes to an S3 on-failure destination for a DynamoDB stream batch.
    const record = (pk: string, fn: string) =>
      JSON.stringify({
        version: '1.0',
        timestamp: '2026-12-06T05:00:00.000Z',
        requestContext: {
          requestId: 'r1',
          functionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${fn}`,
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 6,
        },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        DDBStreamBatchInfo: {
          shardId: 'shardId-1',
          startSequenceNumber: '100',
          endSequenceNumber: '100',
          batchSize: 1,
          streamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/x',
        },
        payload: JSON.stringify({ Records: [{ eventName: 'INSERT', dynamodb: { Keys: { PK: { S: pk }, SK: { S: 'X' } }, SequenceNumber: '100' } }] }),
      });
    const objects = new Map([
      ['aws/lambda/m1/shardId-1/2026/12/06/a', record('FEED#site', 'Inkwire-Service-FeedRebuild')],
      ['aws/lambda/m2/shardId-1/2026/12/06/b', record('SEND#s1', 'Inkwire-Service-SendPlanner')],
      ['aws/lambda/m2/shardId-1/2026/12/06/junk', 'not a record'],
    ]);
    const invoked: { fn: string; pks: string[] }[] = [];
    const clients: ReplayClients = {
      s3: {
        send: async (c: { constructor: { name: string }; input: Record<string, string> }) => {
          const name = c.constructor.name;
          if (name === 'ListObjectsV2Command') return { Contents: [...objects.keys()].map((Key) => ({ Key })), IsTruncated: false };
          if (name === 'GetObjectCommand') return { Body: { transformToString: async () => objects.get(c.input.Key!) } };
          if (name === 'DeleteObjectCommand') return void objects.delete(c.input.Key!);
          throw new Error(`unexpected ${name}`);
        },
      } as unknown as ReplayClients['s3'],
      lambda: {
        send: async (c: { input: { FunctionName: string; Payload: Uint8Array } }) => {
          const event = JSON.parse(new TextDecoder().decode(c.input.Payload)) as DynamoDBStreamEvent;
          invoked.push({ fn: c.input.FunctionName.split(':').pop()!, pks: pks(event) });
          // The planner still fails its record.
          if (c.input.FunctionName.endsWith('SendPlanner'))
            return { Payload: new TextEncoder().encode(JSON.stringify({ batchItemFailures: [{ itemIdentifier: '100' }] })) };
          return { Payload: new TextEncoder().encode('null') };
        },
      } as unknown as ReplayClients['lambda'],
    };
    const report = await replayBucket(clients, 'failed-batches');
    expect(invoked).toEqual([
      { fn: 'Inkwire-Service-FeedRebuild', pks: ['FEED#site'] },
      { fn: 'Inkwire-Service-SendPlanner', pks: ['SEND#s1'] },
    ]);
    expect(report.replayed).toEqual([{ key: 'aws/lambda/m1/shardId-1/2026/12/06/a', function: 'Inkwire-Service-FeedRebuild', records: 1 }]);
    expect(report.failed).toEqual([
      { key: 'aws/lambda/m2/shardId-1/2026/12/06/b', function: 'Inkwire-Service-SendPlanner', error: '1 record(s) failed again' },
    ]);
    expect(report.skipped).toEqual(['aws/lambda/m2/shardId-1/2026/12/06/junk']);
    // Only the batch the function took is gone.
    expect([...objects.keys()]).toEqual(['aws/lambda/m2/shardId-1/2026/12/06/b', 'aws/lambda/m2/shardId-1/2026/12/06/junk']);
  });
});
