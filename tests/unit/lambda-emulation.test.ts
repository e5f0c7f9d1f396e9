import { describe, expect, it } from 'vitest';
import { ScaledTime } from '../../lambdas/core/clock.ts';
import { deploymentLimits } from '../../infra/limits.ts';
import { asyncOptionsFrom, invokeAsync, invokeWithTimeout, killable, type AsyncFailure } from '../../lambdas/local/lambda-emulation.ts';

/** Whether `p` settles within `ms` real milliseconds. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

/** A repository with private state, as the adapters are. */
class Repo {
  #items = new Map<string, { id: string; at: Date }>();
  #gate: Promise<void> | undefined;
  calls = 0;
  get size(): number {
    return this.#items.size;
  }
  async put(id: string): Promise<void> {
    this.calls++;
    await this.#gate;
    this.#items.set(id, { id, at: new Date('2024-01-01T00:00:00Z') });
  }
  async get(id: string): Promise<{ id: string; at: Date } | undefined> {
    this.calls++;
    return this.#items.get(id);
  }
  count(): number {
    this.calls++;
    return this.#items.size;
  }
  holdWritesUntil(gate: Promise<void>): void {
    this.#gate = gate;
  }
}

function graph() {
  let releases = 0;
  const repo = new Repo();
  const deps = {
    sends: repo,
    nested: { deeper: { repo } },
    settings: { perBatch: 4, since: new Date('2024-02-01T00:00:00Z'), tags: ['a', 'b'] },
    index: new Map([['k', 1]]),
    slots: {
      acquire: async () => () => void releases++,
    },
    clockNow: () => new Date('2024-03-01T00:00:00Z'),
    failLater: (ms: number) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late failure')), ms)),
    seen: [] as unknown[],
    keep(x: unknown) {
      this.seen.push(x);
      return x;
    },
  };
  return { deps, repo, releases: () => releases };
}

describe('killable: a graph of ports that a timed-out Lambda instance can no longer act through', () => {
  it('works as the original before the kill: private fields, getters, nested ports, identity, values handed through', async () => {
    const { deps, repo } = graph();
    const { value } = killable(deps);
    await value.sends.put('a');
    await value.nested.deeper.repo.put('b');
    expect(await value.sends.get('a')).toEqual({ id: 'a', at: new Date('2024-01-01T00:00:00Z') });
    expect(value.sends.count()).toBe(2);
    expect(value.sends.size).toBe(2);
    expect(repo.calls).toBe(4);
    expect(value.sends).toBe(value.sends);
    expect(value.sends).toBeInstanceOf(Repo);
    // Values are not proxied: Dates, Maps, arrays work as themselves.
    expect(value.settings.since).toBeInstanceOf(Date);
    expect(value.settings.since.toISOString()).toBe('2024-02-01T00:00:00.000Z');
    expect(value.index.get('k')).toBe(1);
    expect(value.settings.tags).toBe(deps.settings.tags);
    expect(value.clockNow()).toBeInstanceOf(Date);
    // A spread copy carries the wrapped members; a wrapped port handed back in is the original.
    const copy = { ...value };
    expect(copy.sends).toBe(value.sends);
    expect(value.keep(value.sends)).toBe(value.sends);
    expect(deps.seen[0]).toBe(repo);
    expect(Object.keys(value)).toEqual(Object.keys(deps));
    expect(JSON.parse(JSON.stringify(value.settings))).toEqual({ perBatch: 4, since: '2024-02-01T00:00:00.000Z', tags: ['a', 'b'] });
  });

  it('after kill, every call (sync or async, nested, or a function a call returned) answers a promise that never settles, and the original is never reached', async () => {
    const { deps, repo, releases } = graph();
    const { value, kill } = killable(deps);
    const release = await value.slots.acquire();
    const sends = value.sends;
    kill();
    const before = repo.calls;
    const calls: Promise<unknown>[] = [
      value.sends.put('x'),
      sends.get('x'),
      value.nested.deeper.repo.put('y'),
      value.sends.count() as unknown as Promise<unknown>,
      value.clockNow() as unknown as Promise<unknown>,
      value.slots.acquire(),
      release() as unknown as Promise<unknown>,
    ];
    for (const c of calls) expect(c).toBeInstanceOf(Promise);
    expect(await settlesWithin(Promise.race(calls), 50)).toBe(false);
    expect(repo.calls).toBe(before);
    expect(releases()).toBe(0);
    expect(repo.size).toBe(0);
  });

  it('never delivers a promise that was started before the kill and settles after it, resolved or rejected', async () => {
    const { deps, repo } = graph();
    const { value, kill } = killable(deps);
    let open!: () => void;
    repo.holdWritesUntil(new Promise((r) => (open = r)));
    const write = value.sends.put('late');
    const failure = value.failLater(10);
    kill();
    open();
    // The write itself happens (it was on its way), but the killed code never hears of it, nor of the failure.
    expect(await settlesWithin(Promise.race([write, failure]), 50)).toBe(false);
    expect(repo.size).toBe(1);
    // A promise that settled before the kill was delivered as usual.
    const { value: v2, kill: kill2 } = killable(graph().deps);
    const done = v2.sends.put('early');
    await done;
    kill2();
    expect(await settlesWithin(done, 5)).toBe(true);
  });
});

describe('invokeWithTimeout', () => {
  it('counts the remaining time down on the time source, and abandons a call at its timeout', async () => {
    const time = new ScaledTime(1000);
    const seen: number[] = [];
    const out = await invokeWithTimeout(
      async (_e: unknown, ctx) => {
        seen.push(ctx.getRemainingTimeInMillis());
        await time.sleep(40_000);
        seen.push(ctx.getRemainingTimeInMillis());
        return 'ok';
      },
      {},
      60_000,
      time,
    );
    expect(out).toEqual({ status: 'returned', value: 'ok' });
    expect(seen[0]).toBeGreaterThan(55_000);
    // A ScaledTime sleep may end a real millisecond (here 1000 ms of its time) early.
    expect(seen[0]! - seen[1]!).toBeGreaterThanOrEqual(38_000);
    expect(seen[1]).toBeLessThanOrEqual(22_000);

    const started = time.nowMs();
    const stuck = await invokeWithTimeout(() => new Promise(() => undefined), {}, 30_000, time);
    expect(stuck.status).toBe('timedOut');
    expect(time.nowMs() - started).toBeGreaterThanOrEqual(30_000);
    expect(time.nowMs() - started).toBeLessThan(200_000);
  });
});

describe('invokeAsync: Lambda\u2019s asynchronous invocation', () => {
  it('tries a failed invocation again about 1 and then 2 minutes later, then hands the event to the on-failure destination', async () => {
    const time = new ScaledTime(1000);
    const at: number[] = [];
    const failures: AsyncFailure<{ n: number }>[] = [];
    const out = await invokeAsync(
      async () => {
        at.push(time.nowMs());
        throw new Error('table not ready');
      },
      { n: 1 },
      deploymentLimits(14).digest,
      time,
      (f) => void failures.push(f),
      { log: () => undefined },
    );
    expect(at).toHaveLength(3);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(60_000);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(120_000);
    expect(at[2]! - at[0]!).toBeLessThan(500_000);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ event: { n: 1 }, condition: 'RetriesExhausted', attempts: 3 });
    expect((failures[0]!.error as Error).message).toBe('table not ready');
    expect(out.status).toBe('failed');
  });

  it('succeeds on a retry; a call past its timeout is a failure whose instance is killed and not used again', async () => {
    const time = new ScaledTime(1000);
    let made = 0;
    const killed: number[] = [];
    const used: number[] = [];
    const out = await invokeAsync(
      {
        instance: () => {
          const id = ++made;
          return {
            handler: async () => {
              used.push(id);
              if (id === 1) await new Promise(() => undefined);
              return `done by ${id}`;
            },
            kill: () => void killed.push(id),
          };
        },
      },
      {},
      { retryAttempts: 2, timeoutMs: 10_000, maxEventAgeMs: 3_600_000 },
      time,
      () => {
        throw new Error('not expected');
      },
      { log: () => undefined },
    );
    expect(out).toEqual({ status: 'succeeded', value: 'done by 2', attempts: 2 });
    expect(used).toEqual([1, 2]);
    expect(killed).toEqual([1]);
  });

  it('drops an event too old to try again to the on-failure destination, and makes no retry with retryAttempts 0', async () => {
    const time = new ScaledTime(1000);
    let calls = 0;
    const failures: AsyncFailure<string>[] = [];
    const fail = async () => {
      calls++;
      throw new Error('down');
    };
    await invokeAsync(fail, 'old', { retryAttempts: 2, timeoutMs: 1000, maxEventAgeMs: 30_000 }, time, (f) => void failures.push(f), { log: () => undefined });
    expect(calls).toBe(1);
    expect(failures.map((f) => [f.condition, f.attempts])).toEqual([['EventAgeExceeded', 1]]);

    await invokeAsync(fail, 'once', { ...asyncOptionsFrom(deploymentLimits(14).publishScheduled), retryAttempts: 0 }, time, (f) => void failures.push(f), {
      log: () => undefined,
    });
    expect(calls).toBe(2);
    expect(failures.map((f) => [f.condition, f.attempts])).toEqual([
      ['EventAgeExceeded', 1],
      ['RetriesExhausted', 1],
    ]);
  });
});
