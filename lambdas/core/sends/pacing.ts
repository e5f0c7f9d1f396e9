/**
 * Pacing to the provider's sending rate. SES has no rate headers: the only signal of going too fast is a
 * `Throttling` error, so the engine must never exceed the configured rate in the first place.
 */

/** Waits `ms` milliseconds. Injected so that tests drive time themselves. */
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Milliseconds since the epoch. */
export type Now = () => number;

export interface RateLimiter {
  /** Resolves when one more call may start without exceeding the rate. */
  acquire(): Promise<void>;
  /** Holds every following acquisition back by at least `ms` (after the provider throttled us). */
  backOff(ms: number): void;
  /** Calls per second this limiter allows. */
  readonly rate: number;
}

/**
 * At most `rate` acquisitions in ANY window of one second (not per calendar second, and without the burst
 * a token bucket allows: a bucket of N refilled at N/s lets 2N through in the second that straddles a full
 * bucket). It remembers the start times of the last N acquisitions (N = floor(rate)) and lets the next one
 * start one second after the oldest of them; a rate below 1 becomes one call per 1/rate seconds.
 *
 * Reservations are taken synchronously, in call order, so concurrent callers in one process share the
 * limit exactly. Each process has its own limiter: several processes (Lambda instances) must split the
 * account's rate between them (see {@link perWorkerRate}).
 *
 * @example
 * ```ts
 * const limiter = new SlidingWindowLimiter({ rate: 14 });
 * await limiter.acquire();
 * await mailer.send(email);
 * ```
 */
export class SlidingWindowLimiter implements RateLimiter {
  readonly rate: number;
  private readonly starts: number[];
  private readonly windowMs: number;
  private head = 0;
  private notBefore = 0;
  private readonly now: Now;
  private readonly sleep: Sleep;

  constructor(options: { rate: number; now?: Now; sleep?: Sleep }) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate)) throw new Error(`rate must be a positive number, got ${options.rate}`);
    this.rate = options.rate;
    const n = options.rate >= 1 ? Math.floor(options.rate) : 1;
    this.windowMs = options.rate >= 1 ? 1000 : 1000 / options.rate;
    this.starts = new Array<number>(n).fill(Number.NEGATIVE_INFINITY);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  async acquire(): Promise<void> {
    const t = this.now();
    const at = Math.max(t, this.starts[this.head]! + this.windowMs, this.notBefore);
    this.starts[this.head] = at;
    this.head = (this.head + 1) % this.starts.length;
    // A timer may fire a millisecond early by the wall clock: wait until the reserved instant has truly come.
    for (let left = at - this.now(); left > 0; left = at - this.now()) await this.sleep(left);
  }

  backOff(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.now() + ms);
  }
}

/** A limiter that never waits (benchmarks of the pipeline's own overhead). */
export const unlimited: RateLimiter = { rate: Number.POSITIVE_INFINITY, acquire: async () => undefined, backOff: () => undefined };

/**
 * The rate one worker may use when `workers` of them run at once against one account: SES's MaxSendRate is
 * per account, so N concurrent Lambda instances (the queue's maximum concurrency) each get 1/N of it.
 */
export function perWorkerRate(maxSendRate: number, workers: number): number {
  return maxSendRate / Math.max(1, Math.floor(workers));
}

/** Exponential backoff with full jitter: a random wait in [base, min(cap, base * 2^attempt)]. */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return baseMs + Math.floor(random() * Math.max(0, ceiling - baseMs));
}

/** Bounds the number of calls in flight at once. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new Error('a semaphore needs at least one slot');
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * A pool of permits taken several at a time, first come first served: bounds how many recipients this
 * process holds claimed (a delivery record in `sending`) without an outcome recorded yet.
 */
export class Permits {
  private free: number;
  private readonly waiting: { n: number; resolve: () => void }[] = [];
  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error('a permit pool needs at least one permit');
    this.free = capacity;
  }

  async acquire(n: number): Promise<void> {
    const want = Math.min(n, this.capacity);
    if (this.waiting.length === 0 && this.free >= want) {
      this.free -= want;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ n: want, resolve }));
  }

  release(n: number): void {
    this.free += Math.min(n, this.capacity);
    while (this.waiting.length > 0 && this.free >= this.waiting[0]!.n) {
      const next = this.waiting.shift()!;
      this.free -= next.n;
      next.resolve();
    }
  }
}
