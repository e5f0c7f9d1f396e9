import { describe, expect, it } from 'vitest';
import { backoffMs, Semaphore, SharedRateLimiter, type RateLedger } from '../../lambdas/core/sends/pacing.ts';
import { pacedRateFor } from '../../infra/limits.ts';

/** A clock that only moves when every task is waiting: sleeps resolve in time order, instantly. */
class VirtualTime {
  t = 0;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  now = () => this.t;
  sleep = (ms: number) => new Promise<void>((resolve) => this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve }));

  /** Runs until `work` settles, advancing time to the next timer whenever nothing else can run. */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const result = work.finally(() => {
      done = true;
    });
    while (!done) {
      await new Promise((r) => setImmediate(r));
      if (done) break;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) continue;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    return result;
  }
}

/** The most calls that started within any window of `windowMs` (half-open). */
function maxInWindow(starts: number[], windowMs = 1000): number {
  const s = [...starts].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

describe('pacing with a controlled clock', () => {
  it('never starts more than the rate in any one-second window for callers arriving at random moments, at the rates the limits pace to', async () => {
    for (const account of [1, 7, 14]) {
      const time = new VirtualTime();
      let next = 0;
      const ledger: RateLedger = {
        reserve: async (count, spacingMs, nowMs) => {
          next = Math.max(next, nowMs) + count * spacingMs;
          return next - count * spacingMs;
        },
      };
      const limiter = new SharedRateLimiter(ledger, { rate: pacedRateFor(account), reservationMs: 500, now: time.now, sleep: time.sleep });
      const starts: number[] = [];
      let seed = 42;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      await time.run(
        Promise.all(
          Array.from({ length: 60 }, async () => {
            await time.sleep(Math.floor(random() * 20_000));
            await limiter.acquire();
            starts.push(time.now());
          }),
        ),
      );
      expect(starts, `account rate ${account}`).toHaveLength(60);
      expect(maxInWindow(starts), `account rate ${account}`).toBeLessThanOrEqual(account);
    }
  });

  it('shares one account rate between workers through the ledger: together never above it, one alone gets all of it', async () => {
    // The ledger's rule (as DynamoRateLedger keeps it in one item): reservations follow each other.
    const ledger = (): RateLedger & { calls: number } => {
      let next = 0;
      const l = {
        calls: 0,
        reserve: async (count: number, spacingMs: number, nowMs: number) => {
          l.calls++;
          const first = Math.max(next, nowMs);
          next = first + count * spacingMs;
          return first;
        },
      };
      return l;
    };
    for (const rate of [1, 14, 100]) {
      const time = new VirtualTime();
      const shared = ledger();
      // Paced 2% under the account's rate, as the deployment limits set it.
      const paced = rate * 0.98;
      const workers = [0, 1, 2].map(() => new SharedRateLimiter(shared, { rate: paced, reservationMs: 500, now: time.now, sleep: time.sleep }));
      const starts: number[] = [];
      const n = rate * 20;
      // Three workers with eight callers each, all wanting to send at once.
      await time.run(
        Promise.all(
          workers.flatMap((w) =>
            Array.from({ length: 8 }, async () => {
              while (starts.length < n) {
                await w.acquire();
                starts.push(time.now());
              }
            }),
          ),
        ),
      );
      expect(maxInWindow(starts), `rate ${rate}`).toBeLessThanOrEqual(Math.max(1, Math.floor(rate)));
      // Nobody idles: the whole rate is used (within a reservation's worth of instants per worker).
      const nth = (list: number[]) => [...list].sort((a, b) => a - b)[n - 1]!;
      expect(nth(starts), `rate ${rate}`).toBeLessThanOrEqual(((n + 3 * Math.max(1, rate / 2)) / paced) * 1000);
      // A few ledger writes a second, not one per message (except at 1/s, where a reservation is one instant).
      expect(shared.calls, `rate ${rate}`).toBeLessThanOrEqual(Math.ceil((n + 24) / Math.max(1, Math.floor(paced / 2))) + 3);

      const alone = new VirtualTime();
      const one = new SharedRateLimiter(ledger(), { rate: paced, reservationMs: 500, now: alone.now, sleep: alone.sleep });
      const solo: number[] = [];
      await alone.run(
        Promise.all(
          Array.from({ length: 8 }, async () => {
            while (solo.length < n) {
              await one.acquire();
              solo.push(alone.now());
            }
          }),
        ),
      );
      expect(nth(solo), `rate ${rate} alone`).toBeLessThanOrEqual((n / paced) * 1000);
    }
  });

  it('backs off exponentially with jitter, within its bounds', () => {
    expect(backoffMs(0, 500, 20_000, () => 0)).toBe(500);
    expect(backoffMs(3, 500, 20_000, () => 0.999)).toBeLessThanOrEqual(4000);
    expect(backoffMs(3, 500, 20_000, () => 0.999)).toBeGreaterThan(3900);
    expect(backoffMs(20, 500, 20_000, () => 0.999)).toBeLessThanOrEqual(20_000);
  });

  it('bounds the calls in flight', async () => {
    const slots = new Semaphore(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        slots.run(async () => {
          peak = Math.max(peak, ++active);
          await new Promise((r) => setTimeout(r, 2));
          active--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });
});
