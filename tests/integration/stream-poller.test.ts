/**
 * The local stand-in for an event source mapping: DynamoDB Local's stream, filtered, with a checkpoint
 * file so a restart goes on where the last poller stopped.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { freshTable } from '../support/dynamo.ts';
import { StreamPoller } from '../../lambdas/local/stream-poller.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';

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
});
