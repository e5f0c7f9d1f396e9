/**
 * The in-process queue under Lambda's and SQS's limits, on a ScaledTime (1000 times faster than the wall
 * clock: the send worker's 180-second timeout lasts 180 real ms, its 1110-second visibility 1.1 s).
 */
import { describe, expect, it } from 'vitest';
import type { SQSRecord } from 'aws-lambda';
import { ScaledTime } from '../../lambdas/core/clock.ts';
import { deploymentLimits, type QueueConsumerLimits } from '../../infra/limits.ts';
import { InProcessQueue, queueOptionsFrom, type QueueHandler } from '../../lambdas/local/queue.ts';
import { killable } from '../../lambdas/local/lambda-emulation.ts';

const quiet = () => undefined;
const sendWorker: QueueConsumerLimits = deploymentLimits(14).sendWorker;
const receiveCount = (r: SQSRecord) => Number(r.attributes.ApproximateReceiveCount);
const firstReceive = (r: SQSRecord) => Number(r.attributes.ApproximateFirstReceiveTimestamp);

describe('the in-process queue under the deployment limits', () => {
  it('maps QueueConsumerLimits to its options in milliseconds', () => {
    expect(InProcessQueue.optionsFrom).toBe(queueOptionsFrom);
    expect(queueOptionsFrom(sendWorker)).toEqual({
      batchSize: sendWorker.batchSize,
      concurrency: sendWorker.maximumConcurrency,
      maxReceives: sendWorker.maxReceiveCount,
      timeoutMs: 180_000,
      visibilityTimeoutMs: sendWorker.visibilityTimeoutSeconds * 1000,
    });
    expect(queueOptionsFrom(deploymentLimits(14).sendDeadLetter).maxReceives).toBe(Number.POSITIVE_INFINITY);
    // What the queue runs with, read back (GET /_dev/limits).
    expect(new InProcessQueue({ ...queueOptionsFrom(sendWorker) }).emulation).toEqual(queueOptionsFrom(sendWorker));
    // Without limits: Lambda's longest timeout, and Lambda's guidance for the visibility timeout.
    expect(new InProcessQueue().emulation).toMatchObject({ timeoutMs: 900_000, visibilityTimeoutMs: (900 * 6 + 30) * 1000 });
    expect(() => new InProcessQueue({ retryDelayMs: () => 1 } as never)).toThrow(/visibilityTimeoutMs/);
  });

  it('abandons a call at its timeout: its slot is free at once, its message comes back only after the visibility timeout, its receive counted', async () => {
    const time = new ScaledTime(1000);
    const q = new InProcessQueue({ ...queueOptionsFrom(sendWorker), concurrency: 1, time, log: quiet });
    const seen: { body: string; receive: number; at: number; first: number }[] = [];
    let late = 0;
    q.start(async (event) => {
      const r = event.Records[0]!;
      seen.push({ body: r.body, receive: receiveCount(r), at: time.nowMs(), first: firstReceive(r) });
      if (r.body === 'slow' && receiveCount(r) === 1) {
        // Runs well past the 180-second timeout, then reports success: too late, Lambda has ended the call.
        await time.sleep(400_000);
        late++;
      }
    });
    q.sendBodies(['slow']);
    await time.sleep(20_000);
    q.sendBodies(['other']);
    await q.idle();
    expect(q.abandoned).toBe(1);
    const [slow1, other, slow2] = seen;
    expect(seen.map((s) => `${s.body}#${s.receive}`)).toEqual(['slow#1', 'other#1', 'slow#2']);
    // The one slot was free again at the timeout, not when the stuck code ended.
    expect(other!.at - slow1!.at).toBeGreaterThanOrEqual(175_000);
    expect(other!.at - slow1!.at).toBeLessThan(390_000);
    // Visible again when the visibility timeout ran out, counted from the receive.
    expect(slow2!.first).toBe(slow1!.first);
    expect(slow2!.at).toBeGreaterThanOrEqual(slow2!.first + sendWorker.visibilityTimeoutSeconds * 1000);
    expect(late).toBeLessThanOrEqual(1);
    await q.stop();
  });

  it('brings a message reported in batchItemFailures back after the visibility timeout counted from its receive, not sooner', async () => {
    const time = new ScaledTime(1000);
    const q = new InProcessQueue({ ...queueOptionsFrom(sendWorker), time, log: quiet });
    const seen: { body: string; receive: number; at: number; first: number }[] = [];
    q.start(async (event) => {
      for (const r of event.Records) seen.push({ body: r.body, receive: receiveCount(r), at: time.nowMs(), first: firstReceive(r) });
      return { batchItemFailures: event.Records.filter((r) => r.body === 'b' && receiveCount(r) === 1).map((r) => ({ itemIdentifier: r.messageId })) };
    });
    q.sendBodies(['a', 'b', 'c']);
    await time.sleep(100_000);
    expect(q.stats()).toEqual({ visible: 0, delayed: 1, inFlight: 0, dead: 0 });
    await q.idle();
    expect(seen.map((s) => `${s.body}#${s.receive}`)).toEqual(['a#1', 'b#1', 'c#1', 'b#2']);
    const again = seen[3]!;
    expect(again.at).toBeGreaterThanOrEqual(again.first + 1_110_000);
    expect(again.at).toBeLessThan(again.first + 1_110_000 + 1_000_000);
    await q.stop();
  });

  it('gives a message up after maxReceives receives, each one visibility timeout after the one before', async () => {
    const time = new ScaledTime(1000);
    const limits = { ...sendWorker, maxReceiveCount: 3, visibilityTimeoutSeconds: 600 };
    const dead: SQSRecord[] = [];
    const q = new InProcessQueue({ ...queueOptionsFrom(limits), time, log: quiet, onDeadLetter: (r) => void dead.push(r) });
    const at: number[] = [];
    q.start(async () => {
      at.push(time.nowMs());
      throw new Error('worker down');
    });
    q.sendBodies(['poison']);
    await q.idle();
    expect(at).toHaveLength(3);
    // (Each time is taken in the handler, a real millisecond or so after its receive: a few seconds here.)
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(595_000);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(595_000);
    expect(q.deadLetters.map((d) => [d.body, d.receives])).toEqual([['poison', 3]]);
    expect(dead.map((r) => [r.body, r.attributes.ApproximateReceiveCount])).toEqual([['poison', '3']]);
    expect(q.stats()).toEqual({ visible: 0, delayed: 0, inFlight: 0, dead: 1 });
    await q.stop();
  });

  it('honours batch size and concurrency, with each instance running one call at a time', async () => {
    const time = new ScaledTime(1000);
    const limits = { ...sendWorker, batchSize: 4, maximumConcurrency: 3 };
    const q = new InProcessQueue({ ...queueOptionsFrom(limits), time, log: quiet });
    const sizes: number[] = [];
    let active = 0;
    let peak = 0;
    let made = 0;
    const busy = new Set<number>();
    let overlapped = false;
    q.start({
      instance: () => {
        const id = ++made;
        const handler: QueueHandler = async (event) => {
          if (busy.has(id)) overlapped = true;
          busy.add(id);
          peak = Math.max(peak, ++active);
          sizes.push(event.Records.length);
          await time.sleep(5_000);
          active--;
          busy.delete(id);
        };
        return { handler };
      },
    });
    q.sendBodies(Array.from({ length: 30 }, (_, i) => `m${i}`));
    await q.idle();
    expect(peak).toBe(3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.slice(0, 7)).toEqual([4, 4, 4, 4, 4, 4, 4]);
    expect(made).toBe(3);
    expect(q.instancesCreated).toBe(3);
    expect(overlapped).toBe(false);
    expect(q.invocations).toBe(sizes.length);
    await q.stop();
  });

  it('kills the instance of a timed-out call: its port calls never settle, and it is never used again', async () => {
    const time = new ScaledTime(1000);
    const writes: string[] = [];
    // The ports of a worker: a store, and a provider call that answers slowly the first time.
    let providerCalls = 0;
    const deps = {
      store: { put: async (what: string) => void writes.push(what) },
      provider: { call: () => time.sleep(++providerCalls === 1 ? 250_000 : 1_000) },
    };
    const instances: string[] = [];
    const ran: string[] = [];
    const q = new InProcessQueue({ ...queueOptionsFrom(sendWorker), concurrency: 1, time, log: quiet });
    q.start({
      instance: () => {
        const name = `instance-${instances.length + 1}`;
        instances.push(name);
        const { value, kill } = killable(deps);
        return {
          handler: async (event) => {
            const r = event.Records[0]!;
            ran.push(`${name}:${r.body}#${receiveCount(r)}`);
            await value.provider.call();
            await value.store.put(`${name}:${r.body}#${receiveCount(r)}`);
          },
          kill,
        };
      },
    });
    q.sendBodies(['x']);
    await time.sleep(200_000);
    q.sendBodies(['y']);
    await q.idle();
    // The provider answered the first call after the timeout (at 250 s): the killed code never heard of it.
    await time.sleep(100_000);
    expect(ran).toEqual(['instance-1:x#1', 'instance-2:y#1', 'instance-2:x#2']);
    expect(writes).toEqual(['instance-2:y#1', 'instance-2:x#2']);
    expect(instances).toEqual(['instance-1', 'instance-2']);
    expect(q.abandoned).toBe(1);
    await q.stop();
  });

  it('counts getRemainingTimeInMillis down on its time source', async () => {
    const time = new ScaledTime(1000);
    const q = new InProcessQueue({ ...queueOptionsFrom(sendWorker), time, log: quiet });
    const left: number[] = [];
    q.start(async (_e, context) => {
      left.push(context.getRemainingTimeInMillis());
      await time.sleep(60_000);
      left.push(context.getRemainingTimeInMillis());
    });
    q.sendBodies(['t']);
    await q.idle();
    expect(left[0]).toBeGreaterThan(170_000);
    expect(left[0]).toBeLessThanOrEqual(180_000);
    expect(left[0]! - left[1]!).toBeGreaterThanOrEqual(58_000);
    await q.stop();
  });

  it('does not wait for an abandoned call when it stops, nor past the timeout for one in progress', async () => {
    const time = new ScaledTime(1000);
    const q = new InProcessQueue({ ...queueOptionsFrom(sendWorker), concurrency: 2, time, log: quiet });
    q.start(() => new Promise(() => undefined));
    q.sendBodies(['stuck']);
    await time.sleep(100_000);
    q.sendBodies(['stuck too']);
    await time.sleep(100_000);
    // 'stuck' was abandoned at 180 s; 'stuck too' still runs (until 280 s).
    const started = time.nowMs();
    const stopped = q.stop().then(() => 'stopped');
    const outcome = await Promise.race([stopped, new Promise((r) => setTimeout(() => r('still waiting'), 2000))]);
    expect(outcome).toBe('stopped');
    expect(time.nowMs() - started).toBeGreaterThanOrEqual(70_000);
    expect(q.abandoned).toBe(2);
  });
});
