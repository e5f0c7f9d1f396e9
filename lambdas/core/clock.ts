/** Time as a dependency, so that tests and benchmarks can hold it still. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to. */
export class FixedClock implements Clock {
  private t: number;
  constructor(start: Date | string) {
    this.t = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(at: Date | string): void {
    this.t = new Date(at).getTime();
  }
}

/**
 * Time that can also be waited on: what the local runtime's queues, stream poller, timers and the local
 * SES endpoint run on, so a test can run them all faster than real time, together.
 */
export interface TimeSource extends Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number;
  /** Resolves after `ms` milliseconds of this time. */
  sleep(ms: number): Promise<void>;
}

export const systemTime: TimeSource = {
  now: () => new Date(),
  nowMs: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
};

/**
 * Time running `factor` times faster than the wall clock, from `start` (now by default): a 300-second
 * Lambda timeout lasts 15 real seconds at factor 20. Everything that runs on one ScaledTime keeps its
 * proportions; work that takes real time (DynamoDB Local, HTTP) looks `factor` times slower in it.
 */
export class ScaledTime implements TimeSource {
  private readonly realStart = Date.now();
  private readonly start: number;
  constructor(
    readonly factor: number,
    start?: Date | string | number,
  ) {
    if (!(factor > 0)) throw new Error(`factor must be positive, got ${factor}`);
    this.start = start === undefined ? this.realStart : new Date(start).getTime();
  }
  nowMs(): number {
    return this.start + (Date.now() - this.realStart) * this.factor;
  }
  now(): Date {
    return new Date(this.nowMs());
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.max(0, ms / this.factor)));
  }
}
