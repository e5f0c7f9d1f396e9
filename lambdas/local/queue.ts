/**
 * The local stand-in for SQS and its Lambda event source mapping: messages are held in memory and handed
 * to the same consumer handler Lambda runs, with SQS-shaped events (`{ Records: [{ messageId, body,
 * receiptHandle, attributes, ... }] }`), at most `concurrency` calls at once. It honours partial batch
 * failures (`batchItemFailures`): a failed message comes back after a delay, and after `maxReceives`
 * receives it is given up into a dead-letter list, as a redrive policy would, and handed to the
 * `onDeadLetter` consumer, as the dead-letter queue's event source would.
 *
 * Nothing survives the process: a local runtime that starts again re-plans the sends it finds active
 * (their delivery records say who is done).
 */
import { randomUUID, createHash } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { BatchMessage } from '../core/sends/model.ts';
import type { SendQueue } from '../core/sends/ports.ts';

export type QueueHandler = (event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<SQSBatchResponse | void>;

export interface InProcessQueueOptions {
  name?: string;
  /** Messages per handler call (the event source's batch size; SQS allows 1 to 10). */
  batchSize?: number;
  /** Handler calls at once (the event source's maximum concurrency). */
  concurrency?: number;
  /** Receives after which a message is given up. */
  maxReceives?: number;
  /** Wait before a failed message is visible again, by its receive count. */
  retryDelayMs?: (receiveCount: number) => number;
  /** What `getRemainingTimeInMillis` counts down from in each call (a Lambda timeout). */
  timeoutMs?: number;
  /**
   * Called with a message's SQS-shaped record once it is given up (it is in `deadLetters` already), as the
   * dead-letter queue's consumer is in AWS. A failure it reports or throws is logged; the message stays
   * in `deadLetters` either way.
   */
  onDeadLetter?: ((record: SQSRecord) => Promise<SQSBatchResponse | void> | SQSBatchResponse | void) | undefined;
  log?: (msg: string, detail?: unknown) => void;
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
  private readonly visible: Held[] = [];
  private head = 0;
  private delayed = 0;
  private active = 0;
  private handler: QueueHandler | undefined;
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];
  private readonly options: Required<Omit<InProcessQueueOptions, 'log' | 'onDeadLetter'>> & Pick<InProcessQueueOptions, 'log' | 'onDeadLetter'>;
  readonly deadLetters: DeadLetter[] = [];
  /** Handler calls made so far (Lambda invocations, for cost estimates). */
  invocations = 0;

  constructor(options: InProcessQueueOptions = {}) {
    this.options = {
      name: options.name ?? 'send',
      batchSize: Math.min(10, Math.max(1, options.batchSize ?? 10)),
      concurrency: Math.max(1, options.concurrency ?? 2),
      maxReceives: Math.max(1, options.maxReceives ?? 5),
      retryDelayMs: options.retryDelayMs ?? ((n) => Math.min(30_000, 500 * 2 ** (n - 1))),
      timeoutMs: options.timeoutMs ?? 15 * 60_000,
      onDeadLetter: options.onDeadLetter,
      log: options.log,
    };
  }

  async enqueue(messages: BatchMessage[]): Promise<void> {
    this.sendBodies(messages.map((m) => JSON.stringify(m)));
  }

  /** Adds raw message bodies (as SQS SendMessage would). */
  sendBodies(bodies: string[]): void {
    const now = Date.now();
    for (const body of bodies) this.visible.push({ messageId: randomUUID(), body, sentAt: now, receives: 0 });
    this.pump();
  }

  /** Starts handing messages to `handler`. */
  start(handler: QueueHandler): void {
    this.handler = handler;
    this.running = true;
    this.pump();
  }

  /** Stops taking messages and waits for the calls in progress. Held messages are dropped with the process. */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.delayed = 0;
    while (this.active > 0) await new Promise((r) => setTimeout(r, 10));
    this.wakeIdle();
  }

  /** Messages waiting, waiting out a retry delay, and being handled. */
  stats(): { visible: number; delayed: number; inFlight: number; dead: number } {
    return { visible: this.visible.length - this.head, delayed: this.delayed, inFlight: this.active, dead: this.deadLetters.length };
  }

  /** Resolves when no message is left: none visible, none delayed, no call in progress. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private isIdle(): boolean {
    return this.visible.length - this.head === 0 && this.delayed === 0 && this.active === 0;
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
    while (this.running && this.handler && this.active < this.options.concurrency && this.visible.length - this.head > 0) {
      const batch = this.take();
      this.active++;
      void this.call(batch).finally(() => {
        this.active--;
        this.pump();
        this.wakeIdle();
      });
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
    const now = Date.now();
    for (const m of batch) {
      m.receives++;
      m.firstReceivedAt ??= now;
    }
    const started = Date.now();
    let failed: Set<string>;
    try {
      this.invocations++;
      const res = await this.handler!({ Records: batch.map((m) => this.toRecord(m, now)) }, { getRemainingTimeInMillis: () => this.options.timeoutMs - (Date.now() - started) });
      failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (e) {
      this.options.log?.(`[queue:${this.options.name}] handler threw; the whole batch is retried`, e);
      failed = new Set(batch.map((m) => m.messageId));
    }
    for (const m of batch) {
      if (!failed.has(m.messageId)) continue;
      if (m.receives >= this.options.maxReceives) {
        this.deadLetters.push({ messageId: m.messageId, body: m.body, receives: m.receives });
        this.options.log?.(`[queue:${this.options.name}] message ${m.messageId} given up after ${m.receives} receives`);
        await this.handDeadLetter(m, now);
        continue;
      }
      if (!this.running) continue;
      this.delayed++;
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.delayed--;
        this.visible.push(m);
        this.pump();
      }, this.options.retryDelayMs(m.receives));
      this.timers.add(t);
    }
  }

  /** The dead-letter consumer's call (counted as in progress: `idle()` and `stop()` wait for it). */
  private async handDeadLetter(m: Held, now: number): Promise<void> {
    if (!this.options.onDeadLetter) return;
    const record = { ...this.toRecord(m, now), eventSourceARN: `arn:aws:sqs:local:000000000000:${this.options.name}-dead-letter` };
    try {
      const res = await this.options.onDeadLetter(record);
      if (res?.batchItemFailures?.length) this.options.log?.(`[queue:${this.options.name}] the dead-letter consumer could not settle message ${m.messageId}; it stays in the dead-letter list`);
    } catch (e) {
      this.options.log?.(`[queue:${this.options.name}] the dead-letter consumer threw on message ${m.messageId}; it stays in the dead-letter list`, e);
    }
  }
}
