import { describe, expect, it } from 'vitest';
import type { SQSEvent } from 'aws-lambda';
import { InProcessQueue } from '../../lambdas/local/queue.ts';

describe('the in-process queue (SQS and its Lambda event source, locally)', () => {
  it('hands SQS-shaped batches to the consumer, at most `concurrency` calls at once', async () => {
    const q = new InProcessQueue({ batchSize: 3, concurrency: 2 });
    const events: SQSEvent[] = [];
    let active = 0;
    let peak = 0;
    q.start(async (event) => {
      peak = Math.max(peak, ++active);
      events.push(event);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    });
    q.sendBodies(Array.from({ length: 10 }, (_, i) => `m${i}`));
    await q.idle();
    expect(peak).toBe(2);
    expect(events.map((e) => e.Records.length)).toEqual([3, 3, 3, 1]);
    const r = events[0]!.Records[0]!;
    expect(r).toMatchObject({ body: 'm0', eventSource: 'aws:sqs', attributes: { ApproximateReceiveCount: '1' } });
    expect(r.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.receiptHandle).toBeTruthy();
    await q.stop();
  });

  it('redelivers only the messages reported in batchItemFailures, with their receive count', async () => {
    // Test override: a failed message is visible again 5 ms after its receive (the send queue's: 18.5 minutes).
    const q = new InProcessQueue({ visibilityTimeoutMs: 5 });
    const seen: string[] = [];
    q.start(async (event) => {
      for (const r of event.Records) seen.push(`${r.body}#${r.attributes.ApproximateReceiveCount}`);
      return {
        batchItemFailures: event.Records.filter((r) => r.body === 'b' && r.attributes.ApproximateReceiveCount === '1').map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });
    q.sendBodies(['a', 'b', 'c']);
    await q.idle();
    expect(seen.sort()).toEqual(['a#1', 'b#1', 'b#2', 'c#1']);
    await q.stop();
  });

  it('retries the whole batch when the consumer throws, and gives a message up after maxReceives', async () => {
    // Test override: a short visibility timeout, so that three receives take milliseconds.
    const q = new InProcessQueue({ maxReceives: 3, visibilityTimeoutMs: 5 });
    const receives: string[] = [];
    q.start(async (event) => {
      for (const r of event.Records) receives.push(`${r.body}#${r.attributes.ApproximateReceiveCount}`);
      throw new Error('consumer down');
    });
    q.sendBodies(['x', 'y']);
    await q.idle();
    expect(receives.sort()).toEqual(['x#1', 'x#2', 'x#3', 'y#1', 'y#2', 'y#3']);
    expect(q.deadLetters.map((d) => [d.body, d.receives])).toEqual([
      ['x', 3],
      ['y', 3],
    ]);
    expect(q.stats()).toEqual({ visible: 0, delayed: 0, inFlight: 0, dead: 2 });
    await q.stop();
  });

  it('tells the consumer how long it has left, as Lambda does', async () => {
    const q = new InProcessQueue({ timeoutMs: 60_000 });
    let left = 0;
    q.start(async (_event, context) => {
      left = context.getRemainingTimeInMillis();
    });
    q.sendBodies(['t']);
    await q.idle();
    expect(left).toBeGreaterThan(59_000);
    expect(left).toBeLessThanOrEqual(60_000);
    await q.stop();
  });
});
