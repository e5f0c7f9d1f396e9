/**
 * The local runtime's stand-in for the EventBridge Scheduler digest schedules: it calls the same digest
 * handler with the same payload (`{ frequency, scheduledAt }`) when a daily or weekly slot comes. The last
 * slot fired is kept on disk, so slots missed while the process was not running are fired on the next
 * start with their own `scheduledAt`; the handler then reports each one that is past its deadline as
 * `expired` instead of mailing stale news. The first start ever fires nothing from the past.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../core/clock.ts';
import type { DigestEvent } from '../core/sends/use-cases.ts';
import type { DigestSchedule } from '../core/sends/settings.ts';

export type { DigestSchedule };

export interface DigestTimerOptions {
  handler: (event: DigestEvent) => Promise<unknown>;
  schedule: DigestSchedule;
  /** Where the last slot fired per frequency is kept. */
  stateFile: string;
  clock?: Clock;
  /** How often the clock is looked at. */
  intervalMs?: number;
  /** At most this many missed slots per frequency are fired (and reported) after a long outage. */
  maxCatchUp?: number;
  log?: (msg: string, detail?: unknown) => void;
}

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
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<string[]> | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: DigestTimerOptions) {
    this.clock = options.clock ?? systemClock;
    // Fail at start, not at 8 am.
    for (const f of ['daily', 'weekly'] as const) lastSlot(options.schedule, f, new Date());
  }

  /** Fires what is due now (slots missed while stopped included), then keeps watching the clock. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 30_000);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
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

  private async fire(): Promise<string[]> {
    const now = this.clock.now();
    const stored = await this.readState();
    const state: Partial<Record<Frequency, string>> = { ...stored };
    const fired: string[] = [];
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
        try {
          await this.options.handler({ frequency, scheduledAt: at.toISOString() });
        } catch (e) {
          this.options.log?.(`the ${frequency} digest of ${at.toISOString()} could not start; it is tried again shortly`, e);
          break;
        }
        state[frequency] = at.toISOString();
        fired.push(`${frequency}@${at.toISOString()}`);
      }
    }
    if (JSON.stringify(state) !== JSON.stringify(stored)) await this.writeState(state);
    return fired;
  }
}
