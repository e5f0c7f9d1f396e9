import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock, ScaledTime } from '../../lambdas/core/clock.ts';
import { deploymentLimits } from '../../infra/limits.ts';
import type { DigestEvent } from '../../lambdas/core/sends/use-cases.ts';
import { DigestTimer, lastSlot, type DigestTimerOptions } from '../../lambdas/local/digest-timer.ts';
import type { AsyncFailure } from '../../lambdas/local/lambda-emulation.ts';

describe('the local digest timer', () => {
  let dir: string;
  let clock: FixedClock;
  let calls: DigestEvent[];
  let failing: boolean;
  let time: ScaledTime;
  let failures: AsyncFailure<DigestEvent>[];
  // The slots come from the fixed clock; Lambda's waits (retries, timeout) run 1000 times faster than real time.
  const timer = (more: Partial<DigestTimerOptions> = {}) =>
    new DigestTimer({
      handler: async (e) => {
        if (failing) throw new Error('table not ready');
        calls.push(e);
      },
      schedule: { daily: '08:00', weekly: { day: 1, time: '07:30' } },
      stateFile: join(dir, 'digest-timer.json'),
      clock,
      time,
      ...DigestTimer.optionsFrom(deploymentLimits(14).digest),
      onFailure: (f) => void failures.push(f),
      log: () => undefined,
      ...more,
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-timer-'));
    clock = new FixedClock('2024-02-11T09:00:00.000Z'); // a Sunday
    calls = [];
    failing = false;
    time = new ScaledTime(1000);
    failures = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('finds the last daily and weekly slot at or before now', () => {
    const schedule = { daily: '08:00', weekly: { day: 1, time: '07:30' } };
    expect(lastSlot(schedule, 'daily', new Date('2024-02-11T07:59:59Z'))?.at.toISOString()).toBe('2024-02-10T08:00:00.000Z');
    expect(lastSlot(schedule, 'daily', new Date('2024-02-11T08:00:00Z'))?.at.toISOString()).toBe('2024-02-11T08:00:00.000Z');
    expect(lastSlot(schedule, 'weekly', new Date('2024-02-11T09:00:00Z'))?.at.toISOString()).toBe('2024-02-05T07:30:00.000Z');
    expect(lastSlot(schedule, 'weekly', new Date('2024-02-12T07:30:00Z'))?.at.toISOString()).toBe('2024-02-12T07:30:00.000Z');
    expect(lastSlot({}, 'daily', new Date())).toBeUndefined();
    expect(() => new DigestTimer({ handler: async () => undefined, schedule: { daily: '8am' }, stateFile: join(dir, 'x') })).toThrow(/HH:MM/);
  });

  it('fires nothing from the past on its first start, then each slot once when it comes', async () => {
    const t = timer();
    expect(await t.tick()).toEqual([]);
    clock.set('2024-02-12T07:30:05.000Z');
    expect(await t.tick()).toEqual(['weekly@2024-02-12T07:30:00.000Z']);
    clock.set('2024-02-12T08:00:01.000Z');
    expect(await t.tick()).toEqual(['daily@2024-02-12T08:00:00.000Z']);
    expect(await t.tick()).toEqual([]);
    await t.idle();
    expect(calls).toEqual([
      { frequency: 'weekly', scheduledAt: '2024-02-12T07:30:00.000Z' },
      { frequency: 'daily', scheduledAt: '2024-02-12T08:00:00.000Z' },
    ]);
  });

  it('after downtime, fires every missed slot with its own scheduled time (the handler reports the stale ones as expired)', async () => {
    await timer().tick();
    clock.set('2024-02-15T10:00:00.000Z');
    // A new process, as after a restart: the state on disk says what was fired.
    const t = timer();
    expect(await t.tick()).toEqual([
      'daily@2024-02-12T08:00:00.000Z',
      'daily@2024-02-13T08:00:00.000Z',
      'daily@2024-02-14T08:00:00.000Z',
      'daily@2024-02-15T08:00:00.000Z',
      'weekly@2024-02-12T07:30:00.000Z',
    ]);
    await t.idle();
    // One slot after another per frequency, in order.
    expect(calls.filter((c) => c.frequency === 'daily').map((c) => c.scheduledAt)).toEqual([
      '2024-02-12T08:00:00.000Z',
      '2024-02-13T08:00:00.000Z',
      '2024-02-14T08:00:00.000Z',
      '2024-02-15T08:00:00.000Z',
    ]);
  });

  it('is retried by Lambda when the handler fails: twice, about 1 and 2 minutes later, then handed to the on-failure destination; the slot is not fired again', async () => {
    const attempts: number[] = [];
    const t = timer({
      handler: async () => {
        attempts.push(time.nowMs());
        throw new Error('table not ready');
      },
    });
    await t.tick();
    clock.set('2024-02-12T08:00:01.000Z');
    expect(await t.tick()).toEqual(['daily@2024-02-12T08:00:00.000Z', 'weekly@2024-02-12T07:30:00.000Z']);
    await t.idle();
    expect(attempts).toHaveLength(6);
    const daily = failures.find((f) => f.event.frequency === 'daily');
    // The two frequencies are invoked side by side: sorted, as they may end in either order.
    expect(failures.map((f) => [f.event.frequency, f.event.scheduledAt, f.condition, f.attempts]).sort()).toEqual([
      ['daily', '2024-02-12T08:00:00.000Z', 'RetriesExhausted', 3],
      ['weekly', '2024-02-12T07:30:00.000Z', 'RetriesExhausted', 3],
    ]);
    expect((daily!.error as Error).message).toBe('table not ready');
    // Handed to Lambda: the schedule does not fire it again.
    expect(await t.tick()).toEqual([]);
  });

  it('retries a call that runs past the timeout, and waits out Lambda\u2019s delays on its time source', async () => {
    const at: number[] = [];
    let n = 0;
    const t = timer({
      handler: async (e) => {
        at.push(time.nowMs());
        // The first call hangs past the 300-second timeout; the first retry fails; the second succeeds.
        if (++n === 1) await new Promise(() => undefined);
        if (n === 2) throw new Error('throttled');
        calls.push(e);
      },
      schedule: { daily: '08:00' },
    });
    await t.tick();
    clock.set('2024-02-12T08:00:01.000Z');
    await t.tick();
    await t.idle();
    expect(calls).toEqual([{ frequency: 'daily', scheduledAt: '2024-02-12T08:00:00.000Z' }]);
    expect(failures).toEqual([]);
    expect(at).toHaveLength(3);
    // (The timeout counts from just before the handler's first line: a real millisecond, 1000 ms here, of slack.)
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(300_000 + 60_000 - 1_000);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(120_000);
  });

  it('drops an event older than the maximum event age to the on-failure destination instead of retrying it', async () => {
    let n = 0;
    const t = timer({
      handler: async () => {
        n++;
        throw new Error('down');
      },
      schedule: { daily: '08:00' },
      maxEventAgeMs: 90_000,
    });
    await t.tick();
    clock.set('2024-02-12T08:00:01.000Z');
    await t.tick();
    await t.idle();
    // Tried at once and after 1 minute; 2 minutes later the event would be 3 minutes old.
    expect(n).toBe(2);
    expect(failures.map((f) => [f.condition, f.attempts])).toEqual([['EventAgeExceeded', 2]]);
  });

  it('keeps watching the clock on its time source once started, and stops', async () => {
    // Slots and waits on one time source, 30 seconds before a slot.
    const scaled = new ScaledTime(1000, '2024-02-12T07:59:30.000Z');
    const t = timer({ clock: undefined, time: scaled, intervalMs: 30_000, schedule: { daily: '08:00' } });
    await t.start();
    expect(calls).toEqual([]);
    // Two minutes of that time: 120 real milliseconds.
    for (let i = 0; i < 100 && calls.length === 0; i++) await scaled.sleep(10_000);
    await t.stop();
    expect(calls).toEqual([{ frequency: 'daily', scheduledAt: '2024-02-12T08:00:00.000Z' }]);
    const stoppedAt = calls.length;
    await scaled.sleep(200_000);
    expect(calls).toHaveLength(stoppedAt);
  });
});
