import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixedClock } from '../../lambdas/core/clock.ts';
import type { DigestEvent } from '../../lambdas/core/sends/use-cases.ts';
import { DigestTimer, lastSlot } from '../../lambdas/local/digest-timer.ts';

describe('the local digest timer', () => {
  let dir: string;
  let clock: FixedClock;
  let calls: DigestEvent[];
  let failing: boolean;
  const timer = () =>
    new DigestTimer({
      handler: async (e) => {
        if (failing) throw new Error('table not ready');
        calls.push(e);
      },
      schedule: { daily: '08:00', weekly: { day: 1, time: '07:30' } },
      stateFile: join(dir, 'digest-timer.json'),
      clock,
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-timer-'));
    clock = new FixedClock('2024-02-11T09:00:00.000Z'); // a Sunday
    calls = [];
    failing = false;
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
    expect(calls).toEqual([
      { frequency: 'weekly', scheduledAt: '2024-02-12T07:30:00.000Z' },
      { frequency: 'daily', scheduledAt: '2024-02-12T08:00:00.000Z' },
    ]);
  });

  it('after downtime, fires every missed slot with its own scheduled time (the handler reports the stale ones as expired)', async () => {
    await timer().tick();
    clock.set('2024-02-15T10:00:00.000Z');
    // A new process, as after a restart: the state on disk says what was fired.
    expect(await timer().tick()).toEqual([
      'daily@2024-02-12T08:00:00.000Z',
      'daily@2024-02-13T08:00:00.000Z',
      'daily@2024-02-14T08:00:00.000Z',
      'daily@2024-02-15T08:00:00.000Z',
      'weekly@2024-02-12T07:30:00.000Z',
    ]);
  });

  it('tries a slot again when the handler fails', async () => {
    const t = timer();
    await t.tick();
    clock.set('2024-02-12T08:00:01.000Z');
    failing = true;
    expect(await t.tick()).toEqual([]);
    failing = false;
    expect(await t.tick()).toEqual(['daily@2024-02-12T08:00:00.000Z', 'weekly@2024-02-12T07:30:00.000Z']);
  });
});
