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
  /**
   * Reserves the instant (ms since the epoch) at which one more call may start, without waiting for it.
   * Undefined when `cancelled` says so before an instant was reserved (none is wasted).
   */
  next(cancelled?: () => boolean): Promise<number | undefined>;
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

  async next(_cancelled?: () => boolean): Promise<number> {
    const t = this.now();
    const at = Math.max(t, this.starts[this.head]! + this.windowMs, this.notBefore);
    this.starts[this.head] = at;
    this.head = (this.head + 1) % this.starts.length;
    return at;
  }

  async acquire(): Promise<void> {
    const at = await this.next();
    // A timer may fire a millisecond early by the wall clock: wait until the reserved instant has truly come.
    for (let left = at - this.now(); left > 0; left = at - this.now()) await this.sleep(left);
  }

  backOff(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.now() + ms);
  }
}

/** A limiter that never waits (benchmarks of the pipeline's own overhead). */
export const unlimited: RateLimiter = { rate: Number.POSITIVE_INFINITY, acquire: async () => undefined, next: async () => Number.NEGATIVE_INFINITY, backOff: () => undefined };

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

  /** Calls allowed in flight at once. */
  get capacity(): number {
    return this.max;
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
 * The account's sending instants, shared by every process that sends from it (one item in the table):
 * each reservation takes `count` consecutive instants `spacingMs` apart, after every instant reserved
 * before it, so no two processes ever get the same instant.
 */
export interface RateLedger {
  /** Reserves `count` instants from `nowMs` on; answers the first (the others follow `spacingMs` apart). */
  reserve(count: number, spacingMs: number, nowMs: number): Promise<number>;
}

/**
 * Paces to the account's rate across processes: instants come from the shared {@link RateLedger}, a few
 * at a time (about `reservationMs` of sending), and are handed out in order to this process's callers.
 * However many workers run at once, together they send at most `rate` per second, and a worker alone
 * gets the whole rate. An instant this process no longer needs (it stopped) is simply left unused.
 */
export class SharedRateLimiter implements RateLimiter {
  readonly rate: number;
  private readonly spacingMs: number;
  private readonly chunk: number;
  /** A new reservation waits until the last one ends within this much of now. */
  private readonly horizonMs: number;
  private readonly lateMs: number;
  private upcoming = 0;
  private left = 0;
  private reserving: Promise<void> | undefined;
  private readonly now: Now;
  private readonly sleep: Sleep;

  constructor(
    private readonly ledger: RateLedger,
    options: { rate: number; reservationMs: number; now?: Now; sleep?: Sleep; /** How late an instant may still be used. */ lateMs?: number },
  ) {
    if (!(options.rate > 0) || !Number.isFinite(options.rate)) throw new Error(`rate must be a positive number, got ${options.rate}`);
    this.rate = options.rate;
    this.spacingMs = 1000 / options.rate;
    this.chunk = Math.max(1, Math.floor((options.rate * options.reservationMs) / 1000));
    this.horizonMs = Math.max(options.reservationMs, 2 * this.spacingMs);
    this.lateMs = Math.max(options.lateMs ?? options.reservationMs, this.spacingMs);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
  }

  /** The next instant of this process's, reserving more when none is left; instants are taken in call order. */
  async next(cancelled: () => boolean = () => false): Promise<number | undefined> {
    for (;;) {
      if (this.left > 0) {
        const at = this.upcoming;
        this.upcoming += this.spacingMs;
        this.left--;
        // An instant this process fell far behind (more than `lateMs`, a reservation's worth by default) is
        // dropped, not spent in a burst. Instants are never moved: moved, they could fall on another process's.
        if (at >= this.now() - this.lateMs) return at;
        continue;
      }
      if (cancelled()) return undefined;
      if (this.reserving) {
        await this.reserving;
        continue;
      }
      // Hold few instants ahead: one this process cannot use (it stopped, or ran out of time) is lost to all.
      const wait = this.upcoming - this.horizonMs - this.now();
      if (wait > 0) {
        await this.sleep(Math.min(wait, this.spacingMs));
        continue;
      }
      this.reserving = this.ledger
        .reserve(this.chunk, this.spacingMs, this.now())
        .then((first) => {
          this.upcoming = first;
          this.left = this.chunk;
        })
        .finally(() => (this.reserving = undefined));
      await this.reserving;
    }
  }

  async acquire(): Promise<void> {
    const at = (await this.next())!;
    for (let left = at - this.now(); left > 0; left = at - this.now()) await this.sleep(left);
  }

  /**
   * Nothing to do: every sender of the account takes its instants from the ledger, so a throttle comes from
   * an arrival that strayed from its instant, not from going too fast, and the throttled call waits for
   * this process's next instant anyway. Dropping instants would waste them for every sender.
   */
  backOff(_ms: number): void {}
}
