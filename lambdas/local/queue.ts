/**
 * The local stand-in for SQS and its Lambda event source mapping: messages are held in memory and handed
 * to the same consumer handler Lambda runs, with SQS-shaped events (`{ Records: [{ messageId, body,
 * receiptHandle, attributes, ... }] }`), at most `concurrency` calls at once, under the same limits as in
 * AWS (`InProcessQueue.optionsFrom(limits)` maps a function's `QueueConsumerLimits`):
 *
 * - a call gets `context.getRemainingTimeInMillis()` counting down from the function's timeout, and a call
 *   still running at the timeout is **abandoned**: its slot is free again, its messages count as failed
 *   (their receive counted, their results ignored), and its instance is killed and never used again;
 * - a failed message (reported in `batchItemFailures`, or in a call that threw or timed out) becomes
 *   visible again when its visibility timeout, counted from its receive, runs out, as in SQS;
 * - after `maxReceives` receives a failed message is given up into a dead-letter list, as a redrive
 *   policy would, and handed to the `onDeadLetter` consumer, as the dead-letter queue's event source would.
 *
 * Every duration runs on the queue's `TimeSource`, so a `ScaledTime` makes all of it faster in proportion.
 *
 * Instances: `start()` takes a handler (one instance shared by every call; a timed-out call of it is no
 * longer waited for but cannot be stopped, so it goes on acting) or `{ instance: () => ({ handler, kill })
 * }`: the queue then keeps up to `concurrency` execution environments, each running one call at a time, as
 * Lambda does, and calls `kill()` on one whose call timed out. The kill switch (typically
 * `killable(deps).kill`, see lambda-emulation.ts) is what lets a timed-out call stop acting, as Lambda's
 * ending of its process does.
 *
 * Nothing survives the process: a local runtime that starts again re-plans the sends it finds active
 * (their delivery records say who is done).
 */
import { randomUUID, createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueConsumerLimits } from '../../infra/limits.ts';
import { visibilityFor } from '../../infra/limits.ts';
import { systemTime, type TimeSource } from '../core/clock.ts';
import { MAX_QUEUE_DELAY_SECONDS, type BatchMessage } from '../core/sends/model.ts';
import type { SendQueue } from '../core/sends/ports.ts';
import { InstancePool, invokeWithTimeout, sleepUntil, type Consumer, type LambdaContext } from './lambda-emulation.ts';

export type QueueHandler = (event: SQSEvent, context: LambdaContext) => Promise<SQSBatchResponse | void>;

/** A queue's consumer: a handler, or `{ instance: () => ({ handler, kill }) }` (see the module comment). */
export type QueueConsumer = Consumer<QueueHandler>;

export interface InProcessQueueOptions {
  name?: string;
  /** What every wait runs on (visibility timeouts, call timeouts). */
  time?: TimeSource;
  /** Messages per handler call (the event source's batch size; SQS allows 1 to 10). */
  batchSize?: number;
  /** Handler calls at once (the event source's maximum concurrency). */
  concurrency?: number;
  /** Receives after which a failed message is given up (Infinity: never). */
  maxReceives?: number;
  /**
   * The function's timeout: what `getRemainingTimeInMillis` counts down from in each call, and when a call
   * still running is abandoned. Default: Lambda's maximum, 15 minutes.
   */
  timeoutMs?: number;
  /**
   * The queue's visibility timeout: a received message that fails is visible again this long after its
   * receive. Default: Lambda's guidance for the timeout (`visibilityFor`). Tests pass a short one, with a
   * short `timeoutMs` or on a `ScaledTime`.
   */
  visibilityTimeoutMs?: number;
  /**
   * Called with a message's SQS-shaped record once it is given up (it is in `deadLetters` already), as the
   * dead-letter queue's consumer is in AWS. A failure it reports or throws is logged; the message stays
   * in `deadLetters` either way.
   */
  onDeadLetter?: ((record: SQSRecord) => Promise<SQSBatchResponse | void> | SQSBatchResponse | void) | undefined;
  log?: (msg: string, detail?: unknown) => void;
}

/**
 * The options of a queue driving a function with these limits. (`maxBatchingWindowSeconds` is not
 * emulated: a call takes the messages visible when a slot is free; every queue here has no window.)
 */
export function queueOptionsFrom(
  limits: QueueConsumerLimits,
): Required<Pick<InProcessQueueOptions, 'batchSize' | 'concurrency' | 'maxReceives' | 'timeoutMs' | 'visibilityTimeoutMs'>> {
  return {
    batchSize: limits.batchSize,
    concurrency: limits.maximumConcurrency,
    maxReceives: limits.maxReceiveCount,
    timeoutMs: limits.timeoutSeconds * 1000,
    visibilityTimeoutMs: limits.visibilityTimeoutSeconds * 1000,
  };
}

interface Held {
  messageId: string;
  body: string;
  sentAt: number;
  receives: number;
  firstReceivedAt?: number;
}

export interface DeadLetter {
  messageId: string;
  body: string;
  receives: number;
}

export class InProcessQueue implements SendQueue {
  /** The options of a queue driving a function with these limits (seconds to milliseconds). */
  static optionsFrom = queueOptionsFrom;

  private readonly visible: Held[] = [];
  private head = 0;
  /** Messages waiting out their visibility timeout. */
  private delayed = 0;
  private active = 0;
  private readonly calls = new Set<Promise<void>>();
  private readonly deadLettering = new Set<Promise<void>>();
  private pool: InstancePool<QueueHandler> | undefined;
  private running = false;
  /** Moves at every stop, so that waits begun before it end. */
  private epoch = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly time: TimeSource;
  private readonly options: Required<Omit<InProcessQueueOptions, 'log' | 'onDeadLetter' | 'time'>> & Pick<InProcessQueueOptions, 'log' | 'onDeadLetter'>;
  readonly deadLetters: DeadLetter[] = [];
  /** Handler calls made so far (Lambda invocations, for cost estimates). */
  invocations = 0;
  /** Calls abandoned at their timeout. */
  abandoned = 0;

  constructor(options: InProcessQueueOptions = {}) {
    if ('retryDelayMs' in options) {
      throw new Error('InProcessQueue: retryDelayMs is gone; a failed message is visible again after visibilityTimeoutMs, counted from its receive, as in SQS');
    }
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    this.time = options.time ?? systemTime;
    this.options = {
      name: options.name ?? 'send',
      batchSize: Math.min(10, Math.max(1, options.batchSize ?? 10)),
      concurrency: Math.max(1, options.concurrency ?? 2),
      maxReceives: Math.max(1, options.maxReceives ?? 5),
      timeoutMs,
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? visibilityFor(timeoutMs / 1000) * 1000,
      onDeadLetter: options.onDeadLetter,
      log: options.log,
    };
  }

  async enqueue(messages: BatchMessage[], options: { delaySeconds?: number | undefined } = {}): Promise<void> {
    this.sendBodies(
      messages.map((m) => JSON.stringify(m)),
      options.delaySeconds,
    );
  }

  /** Adds raw message bodies (as SQS SendMessage would), visible after `delaySeconds` (SQS's DelaySeconds, at most 900). */
  sendBodies(bodies: string[], delaySeconds = 0): void {
    const now = this.time.nowMs();
    const held = bodies.map((body) => ({ messageId: randomUUID(), body, sentAt: now, receives: 0 }));
    if (delaySeconds > 0) {
      void this.hide(held, now + Math.min(MAX_QUEUE_DELAY_SECONDS, delaySeconds) * 1000);
      return;
    }
    this.visible.push(...held);
    this.pump();
  }

  /** Starts handing messages to `consumer`: a handler, or `{ instance: () => ({ handler, kill }) }`. */
  start(consumer: QueueConsumer): void {
    this.pool = new InstancePool(consumer);
    this.running = true;
    this.pump();
  }

  /** The limits this queue runs with, as resolved from its options (what `GET /_dev/limits` shows). */
  get emulation(): { timeoutMs: number; batchSize: number; concurrency: number; visibilityTimeoutMs: number; maxReceives: number } {
    const { timeoutMs, batchSize, concurrency, visibilityTimeoutMs, maxReceives } = this.options;
    return { timeoutMs, batchSize, concurrency, visibilityTimeoutMs, maxReceives };
  }

  /** Execution environments made so far (cold starts). */
  get instancesCreated(): number {
    return this.pool?.created ?? 0;
  }

  /**
   * Stops taking messages and waits for the calls in progress (each at most until its timeout, when it is
   * abandoned; abandoned calls are not waited for) and the dead-letter consumer's calls. Held messages,
   * visible or waiting out their visibility timeout, are dropped with the process.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.epoch++;
    this.delayed = 0;
    while (this.calls.size > 0 || this.deadLettering.size > 0) await Promise.all([...this.calls, ...this.deadLettering]);
    this.wakeIdle();
  }

  /** Messages visible, waiting out their visibility timeout, and being handled. */
  stats(): { visible: number; delayed: number; inFlight: number; dead: number } {
    return { visible: this.visible.length - this.head, delayed: this.delayed, inFlight: this.active, dead: this.deadLetters.length };
  }

  /**
   * Resolves when no message is left: none visible, none waiting out its visibility timeout, no call in
   * progress (abandoned calls do not count) and no dead letter being handed on.
   */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private isIdle(): boolean {
    return this.visible.length - this.head === 0 && this.delayed === 0 && this.active === 0 && this.deadLettering.size === 0;
  }

  private wakeIdle(): void {
    if (!this.isIdle() && this.running) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private take(): Held[] {
    const batch = this.visible.slice(this.head, this.head + this.options.batchSize);
    this.head += batch.length;
    if (this.head > 1024 && this.head * 2 > this.visible.length) {
      this.visible.splice(0, this.head);
      this.head = 0;
    }
    return batch;
  }

  private pump(): void {
    while (this.running && this.pool && this.active < this.options.concurrency && this.visible.length - this.head > 0) {
      const batch = this.take();
      this.active++;
      const call: Promise<void> = this.call(batch)
        .catch((e: unknown) => this.options.log?.(`[queue:${this.options.name}] internal error`, e))
        .finally(() => {
          this.calls.delete(call);
          this.active--;
          this.pump();
          this.wakeIdle();
        });
      this.calls.add(call);
    }
    this.wakeIdle();
  }

  private toRecord(m: Held, now: number): SQSRecord {
    return {
      messageId: m.messageId,
      receiptHandle: `${m.messageId}#${m.receives}`,
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receives),
        SentTimestamp: String(m.sentAt),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt ?? now),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(m.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:local:000000000000:${this.options.name}`,
      awsRegion: 'local',
    };
  }

  private async call(batch: Held[]): Promise<void> {
    const { name, timeoutMs, log } = this.options;
    const receivedAt = this.time.nowMs();
    for (const m of batch) {
      m.receives++;
      m.firstReceivedAt ??= receivedAt;
    }
    const pool = this.pool!;
    const instance = pool.acquire();
    this.invocations++;
    const outcome = await invokeWithTimeout(instance.handler, { Records: batch.map((m) => this.toRecord(m, receivedAt)) }, timeoutMs, this.time);
    let failed: Set<string>;
    if (outcome.status === 'returned') {
      pool.release(instance);
      failed = new Set((outcome.value?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } else if (outcome.status === 'threw') {
      pool.release(instance);
      log?.(`[queue:${name}] handler threw; the whole batch comes back after its visibility timeout`, outcome.error);
      failed = new Set(batch.map((m) => m.messageId));
    } else {
      // Lambda ends the call here: nothing it returns later counts, and its environment is gone.
      this.abandoned++;
      pool.discard(instance);
      log?.(
        `[queue:${name}] a call ran past its ${timeoutMs} ms timeout and was abandoned; its ${batch.length} message(s) come back after their visibility timeout`,
      );
      if (!instance.kill) {
        void outcome.late.then(() =>
          log?.(
            `[queue:${name}] a call abandoned at its timeout finished later; in Lambda it would have been stopped (start the queue with killable instances)`,
          ),
        );
      }
      failed = new Set(batch.map((m) => m.messageId));
    }
    const retry: Held[] = [];
    for (const m of batch) {
      if (!failed.has(m.messageId)) continue;
      if (m.receives >= this.options.maxReceives) {
        // SQS moves a message to the dead-letter queue when it would be received once more, i.e. after this
        // visibility timeout; it is moved at once here, when it fails for the last time, which only brings
        // the dead-letter consumer's call forward.
        this.deadLetters.push({ messageId: m.messageId, body: m.body, receives: m.receives });
        log?.(`[queue:${name}] message ${m.messageId} given up after ${m.receives} receives`);
        this.handDeadLetter(m, receivedAt);
        continue;
      }
      if (this.running) retry.push(m);
    }
    if (retry.length > 0) void this.hide(retry, receivedAt + this.options.visibilityTimeoutMs);
  }

  /** Keeps failed messages invisible until `visibleAt` (their receive plus the visibility timeout). */
  private async hide(messages: Held[], visibleAt: number): Promise<void> {
    this.delayed += messages.length;
    const epoch = this.epoch;
    const reached = await sleepUntil(this.time, visibleAt, () => this.epoch !== epoch);
    if (!reached) return; // stop() dropped them (and reset the count)
    this.delayed -= messages.length;
    this.visible.push(...messages);
    this.pump();
  }

  /** The dead-letter consumer's call (counted as in progress: `idle()` and `stop()` wait for it). */
  private handDeadLetter(m: Held, now: number): void {
    if (!this.options.onDeadLetter) return;
    const record = { ...this.toRecord(m, now), eventSourceARN: `arn:aws:sqs:local:000000000000:${this.options.name}-dead-letter` };
    const handing: Promise<void> = (async () => {
      try {
        const res = await this.options.onDeadLetter!(record);
        if (res?.batchItemFailures?.length)
          this.options.log?.(`[queue:${this.options.name}] the dead-letter consumer could not settle message ${m.messageId}; it stays in the dead-letter list`);
      } catch (e) {
        this.options.log?.(`[queue:${this.options.name}] the dead-letter consumer threw on message ${m.messageId}; it stays in the dead-letter list`, e);
      }
    })().finally(() => {
      this.deadLettering.delete(handing);
      this.wakeIdle();
    });
    this.deadLettering.add(handing);
  }
}
