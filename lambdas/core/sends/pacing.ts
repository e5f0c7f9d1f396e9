/**
 * Pacing to the provider's sending rate. SES has no rate headers: the only signal of going too fast is a
 * `Throttling` error, so the engine must never exceed the configured rate in the first place.
 */

/** Waits `ms` milliseconds. Injected so that tests drive time themselves. */
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Milliseconds since the epoch. */
export type Now = () => number;

/** Waits until the instant `at` of `now` (a timer may fire a millisecond early: it waits again then). */
export async function sleepUntil(at: number, now: Now, sleep: Sleep): Promise<void> {
  for (let left = at - now(); left > 0; left = at - now()) await sleep(left);
}

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

/** A limiter that never waits (benchmarks of the pipeline's own overhead). */
export const unlimited: RateLimiter = {
  rate: Number.POSITIVE_INFINITY,
  acquire: async () => undefined,
  next: async () => Number.NEGATIVE_INFINITY,
  backOff: () => undefined,
};

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
    options: { rate: number; reservationMs: number; now?: Now; sleep?: Sleep /** How late an instant may still be used. */; lateMs?: number },
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
    await sleepUntil((await this.next())!, this.now, this.sleep);
  }

  /**
   * Nothing to do: every sender of the account takes its instants from the ledger, so a throttle comes from
   * an arrival that strayed from its instant, not from going too fast, and the throttled call waits for
   * this process's next instant anyway. Dropping instants would waste them for every sender.
   */
  backOff(_ms: number): void {}
}
