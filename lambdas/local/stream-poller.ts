import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { matchesFilter } from '../handlers/stream-filters.ts';

export interface StreamConsumer {
  name: string;
  filter: Parameters<typeof matchesFilter>[1];
  batchSize: number;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;
}

interface ShardState {
  iterator: string | undefined;
  done: boolean;
}

const CHECKPOINT_EVERY_MS = 1000;

/** Lambda's DynamoDB stream record shape, from the Streams API's. */
function toLambdaRecord(r: _Record, streamArn: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID,
    eventName: r.eventName as DynamoDBRecord['eventName'],
    eventVersion: r.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: r.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: d.ApproximateCreationDateTime ? Math.floor(new Date(d.ApproximateCreationDateTime).getTime() / 1000) : undefined,
      Keys: d.Keys as never,
      NewImage: d.NewImage as never,
      OldImage: d.OldImage as never,
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as never,
    },
  };
}

/**
 * Reads DynamoDB Local's stream and calls one consumer with Lambda-shaped batches, as an event source
 * mapping does in AWS: filtered, in order per shard, retried from the first failed record, with a
 * checkpoint on disk so a restart resumes where it stopped.
 */
export class StreamPoller {
  private readonly shards = new Map<string, ShardState>();
  private checkpoints: Record<string, string> = {};
  /** When the checkpoint file was last written, and whether records were handled since. */
  private savedAt = 0;
  private unsaved = false;
  private running = false;
  private loop: Promise<void> | undefined;
  private streamArn = '';
  private lastDescribe = 0;
  private idleWaiters: { since: number; resolve: () => void }[] = [];
  private iteration = 0;

  constructor(
    private readonly opts: {
      ddb: DynamoDBClient;
      streams: DynamoDBStreamsClient;
      tableName: string;
      checkpointFile: string;
      consumer: StreamConsumer;
      pollMs?: number;
      maxRetries?: number;
      log?: (msg: string, detail?: unknown) => void;
    },
  ) {}

  async start(): Promise<void> {
    const { Table } = await this.opts.ddb.send(new DescribeTableCommand({ TableName: this.opts.tableName }));
    if (!Table?.LatestStreamArn) throw new Error(`table ${this.opts.tableName} has no stream`);
    this.streamArn = Table.LatestStreamArn;
    try {
      const saved = JSON.parse(await readFile(this.opts.checkpointFile, 'utf8')) as { streamArn: string; shards: Record<string, string> };
      if (saved.streamArn === this.streamArn) this.checkpoints = saved.shards;
    } catch {
      /* first start */
    }
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.flushCheckpoint();
  }

  /** Resolves once every record written so far has been handed to the consumer. */
  idle(): Promise<void> {
    // Only a poll that started after this call and found nothing proves the writes before it were seen.
    return new Promise((resolve) => this.idleWaiters.push({ since: this.iteration, resolve }));
  }

  private log(msg: string, detail?: unknown) {
    (this.opts.log ?? ((m, d) => console.error(m, d ?? '')))(`[stream:${this.opts.consumer.name}] ${msg}`, detail);
  }

  private async discoverShards(): Promise<void> {
    let start: string | undefined;
    do {
      const out = await this.opts.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }));
      for (const s of out.StreamDescription?.Shards ?? []) {
        if (!s.ShardId || this.shards.has(s.ShardId)) continue;
        const after = this.checkpoints[s.ShardId];
        let iterator: string | undefined;
        try {
          const it = await this.opts.streams.send(
            new GetShardIteratorCommand({
              StreamArn: this.streamArn,
              ShardId: s.ShardId,
              ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
              ...(after ? { SequenceNumber: after } : {}),
            }),
          );
          iterator = it.ShardIterator;
        } catch (e) {
          this.log(`cannot open shard ${s.ShardId}`, (e as Error).message);
        }
        this.shards.set(s.ShardId, { iterator, done: !iterator });
      }
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    this.lastDescribe = Date.now();
  }

  /**
   * Moves the shard's checkpoint; the file is written at most once a second (and when the poller is idle
   * or stops). After a crash the records since the last write are delivered again: at least once, as an
   * event source mapping does, and every consumer is idempotent.
   */
  private async saveCheckpoint(shardId: string, seq: string): Promise<void> {
    this.checkpoints[shardId] = seq;
    this.unsaved = true;
    if (Date.now() - this.savedAt >= CHECKPOINT_EVERY_MS) await this.flushCheckpoint();
  }

  private async flushCheckpoint(): Promise<void> {
    if (!this.unsaved) return;
    this.unsaved = false;
    this.savedAt = Date.now();
    await mkdir(dirname(this.opts.checkpointFile), { recursive: true });
    await writeFile(this.opts.checkpointFile, JSON.stringify({ streamArn: this.streamArn, shards: this.checkpoints }));
  }

  private async deliver(records: DynamoDBRecord[], shardId: string): Promise<void> {
    const { consumer } = this.opts;
    const matching = records.filter((r) => matchesFilter(r, consumer.filter));
    for (let i = 0; i < matching.length; i += consumer.batchSize) {
      let batch = matching.slice(i, i + consumer.batchSize);
      for (let attempt = 0; batch.length > 0; attempt++) {
        let failedAt: string | undefined;
        try {
          const res = await consumer.handler({ Records: batch });
          failedAt = res?.batchItemFailures?.[0]?.itemIdentifier;
        } catch (e) {
          this.log('handler threw', e);
          failedAt = batch[0]?.dynamodb?.SequenceNumber;
        }
        if (!failedAt) break;
        if (attempt >= (this.opts.maxRetries ?? 5)) {
          this.log(`giving up on ${batch.length} record(s) from ${failedAt} after ${attempt + 1} attempts`);
          break;
        }
        const from = batch.findIndex((r) => r.dynamodb?.SequenceNumber === failedAt);
        batch = batch.slice(Math.max(0, from));
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
      }
    }
    const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
    if (last) await this.saveCheckpoint(shardId, last);
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 100;
    while (this.running) {
      const started = ++this.iteration;
      let got = 0;
      try {
        if (Date.now() - this.lastDescribe > 1000) await this.discoverShards();
        for (const [shardId, state] of this.shards) {
          if (state.done || !state.iterator) continue;
          let out;
          try {
            out = await this.opts.streams.send(new GetRecordsCommand({ ShardIterator: state.iterator, Limit: 1000 }));
          } catch (e) {
            const name = (e as { name?: string }).name;
            if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') throw e;
            // The iterator is no longer usable: reopen the shard from its checkpoint (or its start).
            this.shards.delete(shardId);
            this.lastDescribe = 0;
            continue;
          }
          state.iterator = out.NextShardIterator;
          if (!state.iterator) state.done = true;
          const records = (out.Records ?? []).map((r) => toLambdaRecord(r, this.streamArn));
          got += records.length;
          if (records.length > 0) await this.deliver(records, shardId);
        }
      } catch (e) {
        if (this.running) this.log('poll failed', (e as Error).message);
        await new Promise((r) => setTimeout(r, 500));
      }
      if (got === 0) {
        await this.flushCheckpoint().catch((e: unknown) => this.log('could not save the checkpoint', (e as Error).message));
        const ready = this.idleWaiters.filter((w) => started > w.since);
        this.idleWaiters = this.idleWaiters.filter((w) => started <= w.since);
        for (const w of ready) w.resolve();
        await new Promise((r) => setTimeout(r, pollMs));
      }
    }
    for (const w of this.idleWaiters.splice(0)) w.resolve();
  }
}
