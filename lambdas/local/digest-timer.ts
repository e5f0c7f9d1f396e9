/**
 * The local runtime's stand-in for the EventBridge Scheduler digest schedules: it calls the same digest
 * handler with the same payload (`{ frequency, scheduledAt }`) when a daily or weekly slot comes. The last
 * slot fired is kept on disk, so slots missed while the process was not running are fired on the next
 * start with their own `scheduledAt`; the handler then reports each one that is past its deadline as
 * `expired` instead of mailing stale news. The first start ever fires nothing from the past.
 *
 * The schedule invokes the function asynchronously, as in AWS: a slot is fired once it is handed over;
 * a call that throws or runs past the function's timeout is tried again by "Lambda" (about 1, then 2
 * minutes later: `invokeAsync`), and one that fails for good goes to `onFailure`, the on-failure
 * destination. Every wait runs on the timer's `TimeSource`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { deploymentLimits, type AsyncLimits } from '../../infra/limits.ts';
import { systemTime, type Clock, type TimeSource } from '../core/clock.ts';
import type { DigestEvent } from '../core/sends/use-cases.ts';
import type { DigestSchedule } from '../core/sends/settings.ts';
import {
  asyncOptionsFrom,
  invokeAsync,
  InstancePool,
  sleepUntil,
  type AsyncFailure,
  type AsyncInvokeOptions,
  type Consumer,
  type LambdaContext,
} from './lambda-emulation.ts';

export type { DigestSchedule };

export type DigestHandler = (event: DigestEvent, context: LambdaContext) => Promise<unknown>;

export interface DigestTimerOptions {
  /** The digest function: a handler, or `{ instance: () => ({ handler, kill }) }` (see lambda-emulation.ts). */
  handler: Consumer<DigestHandler>;
  schedule: DigestSchedule;
  /** Where the last slot fired per frequency is kept. */
  stateFile: string;
  /** What the slots are read from (default: `time`). */
  clock?: Clock;
  /** What every wait runs on: the clock checks, Lambda's retries, the call timeout. */
  time?: TimeSource;
  /** How often the clock is looked at. */
  intervalMs?: number;
  /** At most this many missed slots per frequency are fired (and reported) after a long outage. */
  maxCatchUp?: number;
  /**
   * How Lambda runs the function, invoked asynchronously by the schedule (`DigestTimer.optionsFrom(limits.digest)`):
   * a call that throws or runs past `timeoutMs` is tried again `retryAttempts` times (about 1, then 2
   * minutes later) unless the event is older than `maxEventAgeMs`. Default: the digest's deployment limits.
   */
  retryAttempts?: number;
  timeoutMs?: number;
  maxEventAgeMs?: number;
  /** The on-failure destination: a slot whose invocation failed for good. Default: logged. */
  onFailure?: (failure: AsyncFailure<DigestEvent>) => unknown;
  log?: (msg: string, detail?: unknown) => void;
}

/** The digest function's limits (they do not depend on the SES rate). */
const DIGEST_DEFAULTS: AsyncInvokeOptions = asyncOptionsFrom(deploymentLimits(1).digest);

type Frequency = 'daily' | 'weekly';
const DAY = 86_400_000;

function minutesOf(time: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time);
  if (!m) throw new Error(`digest time must be HH:MM (24 h, UTC), got ${JSON.stringify(time)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** The most recent slot at or before `now`, and the period between slots. */
export function lastSlot(schedule: DigestSchedule, frequency: Frequency, now: Date): { at: Date; periodMs: number } | undefined {
  const dayStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  if (frequency === 'daily') {
    if (!schedule.daily) return undefined;
    let at = dayStart + minutesOf(schedule.daily) * 60_000;
    if (at > now.getTime()) at -= DAY;
    return { at: new Date(at), periodMs: DAY };
  }
  if (!schedule.weekly) return undefined;
  const { day, time } = schedule.weekly;
  if (!Number.isInteger(day) || day < 0 || day > 6) throw new Error(`weekly digest day must be 0 (Sunday) to 6 (Saturday), got ${day}`);
  let at = dayStart - ((now.getUTCDay() - day + 7) % 7) * DAY + minutesOf(time) * 60_000;
  if (at > now.getTime()) at -= 7 * DAY;
  return { at: new Date(at), periodMs: 7 * DAY };
}

export class DigestTimer {
  /** The options of a digest function with these limits (seconds to milliseconds). */
  static optionsFrom(limits: AsyncLimits): Pick<DigestTimerOptions, 'retryAttempts' | 'timeoutMs' | 'maxEventAgeMs'> {
    return asyncOptionsFrom(limits);
  }

  private running = false;
  private loop: Promise<void> | undefined;
  private ticking: Promise<string[]> | undefined;
  /** Per frequency, the invocations handed to "Lambda" and not yet over, in the order the slots were fired. */
  private readonly invoking: Record<Frequency, Promise<void>> = { daily: Promise.resolve(), weekly: Promise.resolve() };
  private pending = 0;
  private stopped = false;
  private readonly clock: Clock;
  private readonly time: TimeSource;
  private readonly pool: InstancePool<DigestHandler>;
  private readonly invoke: AsyncInvokeOptions;

  constructor(private readonly options: DigestTimerOptions) {
    this.time = options.time ?? systemTime;
    this.clock = options.clock ?? this.time;
    this.pool = new InstancePool(options.handler);
    this.invoke = {
      retryAttempts: options.retryAttempts ?? DIGEST_DEFAULTS.retryAttempts,
      timeoutMs: options.timeoutMs ?? DIGEST_DEFAULTS.timeoutMs,
      maxEventAgeMs: options.maxEventAgeMs ?? DIGEST_DEFAULTS.maxEventAgeMs,
    };
    // Fail at start, not at 8 am.
    for (const f of ['daily', 'weekly'] as const) lastSlot(options.schedule, f, new Date());
  }

  /** Fires what is due now (slots missed while stopped included), then keeps watching the clock. */
  async start(): Promise<void> {
    this.running = true;
    this.stopped = false;
    await this.tick();
    const every = this.options.intervalMs ?? 30_000;
    this.loop = (async () => {
      while (this.running) {
        if (!(await sleepUntil(this.time, this.time.nowMs() + every, () => !this.running))) break;
        await this.tick().catch((e: unknown) => this.options.log?.('the digest timer could not look at its schedule', e));
      }
    })();
  }

  /**
   * Stops watching the clock. A digest call in progress is waited for (at most until its timeout); a retry
   * still to come is dropped with the process, as the in-process queue's messages are.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    await this.loop;
    await this.ticking;
    await Promise.all(Object.values(this.invoking));
  }

  /** Resolves once every slot fired so far has been handled: succeeded, or handed to `onFailure`. */
  async idle(): Promise<void> {
    await this.ticking;
    while (this.pending > 0) await Promise.all(Object.values(this.invoking));
  }

  private async readState(): Promise<Partial<Record<Frequency, string>> | undefined> {
    try {
      return JSON.parse(await readFile(this.options.stateFile, 'utf8')) as Partial<Record<Frequency, string>>;
    } catch {
      return undefined;
    }
  }

  private async writeState(state: Partial<Record<Frequency, string>>): Promise<void> {
    await mkdir(dirname(this.options.stateFile), { recursive: true });
    await writeFile(`${this.options.stateFile}.tmp`, JSON.stringify(state));
    await rename(`${this.options.stateFile}.tmp`, this.options.stateFile);
  }

  /** Fires every due slot once; answers the slots fired (`daily@<ISO>`). */
  tick(): Promise<string[]> {
    this.ticking ??= this.fire().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** Invokes the digest function asynchronously with `event`, after the slots handed off before it. */
  private handOff(event: DigestEvent): void {
    const log = this.options.log ?? ((m: string, d?: unknown) => console.error(m, d ?? ''));
    this.pending++;
    this.invoking[event.frequency] = this.invoking[event.frequency]
      .then(async () => {
        const outcome = await invokeAsync(this.pool, event, this.invoke, this.time, this.options.onFailure, {
          name: `digest:${event.frequency}`,
          log,
          cancelled: () => this.stopped,
        });
        if (outcome.status === 'dropped')
          log(`the ${event.frequency} digest of ${event.scheduledAt} was waiting for a retry when the timer stopped; it is dropped`);
      })
      .catch((e: unknown) => log('digest invocation failed', e))
      .finally(() => {
        this.pending--;
      });
  }

  private async fire(): Promise<string[]> {
    const now = this.clock.now();
    const stored = await this.readState();
    const state: Partial<Record<Frequency, string>> = { ...stored };
    const events: DigestEvent[] = [];
    for (const frequency of ['daily', 'weekly'] as const) {
      const slot = lastSlot(this.options.schedule, frequency, now);
      if (!slot) continue;
      const last = state[frequency];
      if (!stored || !last) {
        // First start: nothing from before it is owed.
        state[frequency] = slot.at.toISOString();
        continue;
      }
      const due: Date[] = [];
      for (let at = slot.at.getTime(); at > Date.parse(last) && due.length < (this.options.maxCatchUp ?? 10); at -= slot.periodMs) due.unshift(new Date(at));
      for (const at of due) {
        events.push({ frequency, scheduledAt: at.toISOString() });
        state[frequency] = at.toISOString();
      }
    }
    if (JSON.stringify(state) !== JSON.stringify(stored)) await this.writeState(state);
    // EventBridge Scheduler's part ends when Lambda has the event: the slot is fired. Lambda's own retries
    // and on-failure destination take it from there, in the background (per frequency, one slot after another).
    for (const event of events) this.handOff(event);
    return events.map((e) => `${e.frequency}@${e.scheduledAt}`);
  }
}
