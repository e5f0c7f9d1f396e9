import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamConsumerLimits } from '../../infra/limits.ts';
import { systemTime, type TimeSource } from '../core/clock.ts';
import { matchesFilter } from '../handlers/stream-filters.ts';
import { InstancePool, invokeWithTimeout, type Consumer, type LambdaContext } from './lambda-emulation.ts';

export type StreamHandler = (event: DynamoDBStreamEvent, context: LambdaContext) => Promise<DynamoDBBatchResponse | void>;

/** The part of a consumer that its `StreamConsumerLimits` set (`StreamPoller.optionsFrom(limits)`). */
export interface StreamConsumerOptions {
  /** Records per call at most. */
  batchSize: number;
  /** How long records are gathered before a call when fewer than `batchSize` are waiting (0: none). */
  maxBatchingWindowMs?: number;
  /** Retries of a failed batch before its records go to the on-failure destination. Default 5. */
  retryAttempts?: number;
  /** The function's timeout: a call still running then is abandoned, a failed attempt. Default 15 minutes. */
  timeoutMs?: number;
}

export interface StreamConsumer extends StreamConsumerOptions {
  name: string;
  filter: Parameters<typeof matchesFilter>[1];
  /** The function: a handler, or `{ instance: () => ({ handler, kill }) }` (see lambda-emulation.ts). */
  handler: Consumer<StreamHandler>;
}

/** The consumer options of a function with these limits (seconds to milliseconds). */
export function streamConsumerOptionsFrom(limits: StreamConsumerLimits): Required<StreamConsumerOptions> {
  return {
    batchSize: limits.batchSize,
    maxBatchingWindowMs: limits.maxBatchingWindowSeconds * 1000,
    retryAttempts: limits.retryAttempts,
    timeoutMs: limits.timeoutSeconds * 1000,
  };
}

/** Records the consumer failed on for good, as the on-failure destination receives them. */
export interface StreamFailure {
  consumer: string;
  shardId: string;
  /** The records from the first failed one to the end of the batch. */
  records: DynamoDBRecord[];
  /** Calls made with them. */
  attempts: number;
  /** How the last attempt failed. */
  reason: 'reported' | 'threw' | 'timedOut';
  error?: unknown;
}

interface ShardState {
  iterator: string | undefined;
  done: boolean;
  /** Matching records read and not yet handed to the consumer (gathered for its batching window). */
  pending: DynamoDBRecord[];
  /** When the first of `pending` was read (TimeSource ms). */
  pendingSince: number;
  /** The last record read from the shard. */
  readSeq: string | undefined;
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
 * mapping does in AWS, under the function's limits (`StreamPoller.optionsFrom(limits)`): filtered, in
 * order per shard, at most `batchSize` records a call, gathered for up to `maxBatchingWindowMs`; a call
 * gets `context.getRemainingTimeInMillis()` counting down from `timeoutMs`, and one still running then is
 * abandoned (its instance killed, when the consumer is an instance factory) and counts as a failed
 * attempt; a failed batch is retried from its first failed record (`batchItemFailures`), `retryAttempts`
 * times, after which its records go to the on-failure destination (`onFailure`, the `failed` list, the
 * log) and the poller goes on. A checkpoint on disk lets a restart resume where it stopped.
 *
 * Waits (polling, the batching window, the pauses between retries, the timeout) run on the `TimeSource`;
 * shard discovery and checkpoint writes are paced on the wall clock, as they pace work on DynamoDB Local
 * and the disk, not anything Lambda does. Not emulated: `maxRecordAgeSeconds`, `bisectBatchOnError`,
 * `parallelizationFactor` (one call at a time).
 */
export class StreamPoller {
  /** The consumer options of a function with these limits (seconds to milliseconds). */
  static optionsFrom = streamConsumerOptionsFrom;

  /** Records given up after their last retry, as the on-failure destination received them. */
  readonly failed: StreamFailure[] = [];
  private readonly time: TimeSource;
  private readonly pool: InstancePool<StreamHandler>;
  /** The consumer's limits with their defaults filled in. */
  private readonly limits: Required<StreamConsumerOptions>;
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
      /** How long the poller waits after a poll that found nothing (TimeSource ms). */
      pollMs?: number;
      time?: TimeSource;
      /** The on-failure destination: records the consumer failed on after its last retry. */
      onFailure?: (failure: StreamFailure) => unknown;
      log?: (msg: string, detail?: unknown) => void;
    },
  ) {
    if ('maxRetries' in opts) throw new Error("StreamPoller: maxRetries is now the consumer's retryAttempts");
    this.time = opts.time ?? systemTime;
    this.pool = new InstancePool(opts.consumer.handler);
    const c = opts.consumer;
    this.limits = {
      batchSize: Math.max(1, c.batchSize),
      maxBatchingWindowMs: c.maxBatchingWindowMs ?? 0,
      retryAttempts: c.retryAttempts ?? 5,
      timeoutMs: c.timeoutMs ?? 15 * 60_000,
    };
  }

  /** The limits this poller runs its consumer with (what `GET /_dev/limits` shows). */
  get emulation(): { timeoutMs: number; batchSize: number; maxBatchingWindowMs: number; retryAttempts: number } {
    return { ...this.limits };
  }

  /** Execution environments made so far (cold starts). */
  get instancesCreated(): number {
    return this.pool.created;
  }

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
        this.shards.set(s.ShardId, { iterator, done: !iterator, pending: [], pendingSince: 0, readSeq: undefined });
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

  /** Takes the records read from a shard: the matching ones wait for the consumer, the rest are passed over. */
  private gather(state: ShardState, records: DynamoDBRecord[]): void {
    for (const r of records) {
      if (matchesFilter(r, this.opts.consumer.filter)) {
        if (state.pending.length === 0) state.pendingSince = this.time.nowMs();
        state.pending.push(r);
      }
      state.readSeq = r.dynamodb?.SequenceNumber ?? state.readSeq;
    }
  }

  /** When the shard's gathered records are due to the consumer (Infinity: nothing gathered). */
  private dueAt(state: ShardState): number {
    if (state.pending.length === 0) return Number.POSITIVE_INFINITY;
    if (state.pending.length >= this.limits.batchSize) return 0;
    return state.pendingSince + this.limits.maxBatchingWindowMs;
  }

  /** Hands the shard's due records to the consumer, a batch at a time, and moves its checkpoint. */
  private async flush(shardId: string, state: ShardState): Promise<void> {
    const { batchSize } = this.limits;
    while (state.pending.length > 0 && this.dueAt(state) <= this.time.nowMs()) {
      const batch = state.pending.splice(0, batchSize);
      await this.deliver(batch, shardId);
      // The rest gather for a window of their own.
      state.pendingSince = this.time.nowMs();
      const done = state.pending.length === 0 ? state.readSeq : batch[batch.length - 1]?.dynamodb?.SequenceNumber;
      if (done) await this.saveCheckpoint(shardId, done);
    }
    // Records read and all passed over by the filter: nothing to wait for.
    if (state.pending.length === 0 && state.readSeq && this.checkpoints[shardId] !== state.readSeq) await this.saveCheckpoint(shardId, state.readSeq);
  }

  /** One batch, retried from its first failed record until it succeeds or its retries are spent. */
  private async deliver(records: DynamoDBRecord[], shardId: string): Promise<void> {
    const { consumer } = this.opts;
    const { retryAttempts, timeoutMs } = this.limits;
    let batch = records;
    for (let attempt = 1; batch.length > 0; attempt++) {
      const instance = this.pool.acquire();
      const outcome = await invokeWithTimeout(instance.handler, { Records: batch }, timeoutMs, this.time);
      let failedAt: string | undefined;
      let reason: StreamFailure['reason'] = 'reported';
      let error: unknown;
      if (outcome.status === 'returned') {
        this.pool.release(instance);
        failedAt = outcome.value?.batchItemFailures?.[0]?.itemIdentifier;
      } else if (outcome.status === 'threw') {
        this.pool.release(instance);
        this.log('handler threw', outcome.error);
        failedAt = batch[0]?.dynamodb?.SequenceNumber;
        reason = 'threw';
        error = outcome.error;
      } else {
        // Lambda ends the call here: the attempt failed, whatever the code does later.
        this.pool.discard(instance);
        this.log(`a call ran past its ${timeoutMs} ms timeout and was abandoned; the batch counts as failed`);
        failedAt = batch[0]?.dynamodb?.SequenceNumber;
        reason = 'timedOut';
        error = new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
      }
      if (!failedAt) return;
      const from = batch.findIndex((r) => r.dynamodb?.SequenceNumber === failedAt);
      batch = batch.slice(Math.max(0, from));
      if (attempt > retryAttempts) {
        const failure: StreamFailure = {
          consumer: consumer.name,
          shardId,
          records: batch,
          attempts: attempt,
          reason,
          ...(error === undefined ? {} : { error }),
        };
        this.failed.push(failure);
        this.log(`giving up on ${batch.length} record(s) from ${failedAt} after ${attempt} attempts; they go to the on-failure destination`);
        try {
          await this.opts.onFailure?.(failure);
        } catch (e) {
          this.log('the on-failure destination threw', e);
        }
        return;
      }
      // Lambda tries a failed stream batch again at once, backing off a little.
      await this.time.sleep(Math.min(5000, 200 * 2 ** (attempt - 1)));
    }
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 100;
    while (this.running) {
      const started = ++this.iteration;
      let got = 0;
      try {
        if (Date.now() - this.lastDescribe > 1000) await this.discoverShards();
        for (const [shardId, state] of this.shards) {
          if (!state.done && state.iterator) {
            let out: GetRecordsCommandOutput;
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
            this.gather(state, records);
          }
          await this.flush(shardId, state);
        }
      } catch (e) {
        if (this.running) this.log('poll failed', (e as Error).message);
        await this.time.sleep(500);
      }
      if (got === 0) {
        const next = Math.min(...[...this.shards.values()].map((s) => this.dueAt(s)));
        if (next === Number.POSITIVE_INFINITY) {
          await this.flushCheckpoint().catch((e: unknown) => this.log('could not save the checkpoint', (e as Error).message));
          const ready = this.idleWaiters.filter((w) => started > w.since);
          this.idleWaiters = this.idleWaiters.filter((w) => started <= w.since);
          for (const w of ready) w.resolve();
        }
        // Records gathered for a batching window are handed on when it ends.
        await this.time.sleep(Math.max(0, Math.min(pollMs, next - this.time.nowMs())));
      }
    }
    for (const w of this.idleWaiters.splice(0)) w.resolve();
  }
}
