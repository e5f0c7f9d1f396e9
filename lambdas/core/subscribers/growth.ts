import type { Subscriber } from './schema.ts';

/** The windows the growth chart offers. */
export const GROWTH_WINDOWS = [30, 90] as const;
export type GrowthWindow = (typeof GROWTH_WINDOWS)[number];

/**
 * How the confirmed list changed: a subscriber joined it (`confirmed`), or left it by unsubscribing,
 * by being suppressed (a hard bounce or a complaint) or by being erased.
 */
export const GROWTH_KINDS = ['confirmed', 'unsubscribed', 'suppressed', 'erased'] as const;
export type GrowthKind = (typeof GROWTH_KINDS)[number];

/**
 * One change of the confirmed list, recorded with the write that made it (so it cannot be forgotten or
 * counted twice): the day, the kind, and the subscriber and version the write produced.
 */
export interface GrowthMark {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  kind: GrowthKind;
  subscriberId: string;
  /** The subscriber's version after the write: two changes on one day are two marks; a retried write is one. */
  version: number;
}

/** How long marks are kept: past the longest window, so a 90-day chart is always whole. */
export const GROWTH_MARK_DAYS = 100;

type Marked = Pick<Subscriber, 'id' | 'status' | 'version' | 'updatedAt'>;

/**
 * The mark a subscriber write makes, if it changes the confirmed list: becoming confirmed (a double
 * opt-in, an import with consent, a resubscribe), or leaving it (unsubscribed, suppressed, or erased:
 * `next` undefined). Pending subscribers who bounce or are erased were never on the list and make none,
 * so the sum of every day's net is the change in the number of confirmed subscribers.
 */
export function growthMarkOf(prev: Marked | undefined, next: Marked | undefined, at?: string): GrowthMark | undefined {
  const was = prev?.status === 'confirmed';
  let kind: GrowthKind | undefined;
  if (next) {
    if (next.status === 'confirmed') kind = was ? undefined : 'confirmed';
    else if (was && (next.status === 'unsubscribed' || next.status === 'suppressed')) kind = next.status;
  } else if (was) kind = 'erased';
  if (!kind) return undefined;
  // An erasure leaves no next version: its mark takes the one the erased item would have had.
  const { id, version, updatedAt } = next ?? { ...prev!, version: prev!.version + 1 };
  return { day: new Date(at ?? updatedAt).toISOString().slice(0, 10), kind, subscriberId: id, version };
}

/** Reads the marks of a span of days. */
export interface GrowthReader {
  /** How many marks of each kind each day from `from` to `to` (UTC days, inclusive) has; days without any are absent. */
  countsByDay(from: string, to: string): Promise<Map<string, Record<GrowthKind, number>>>;
}

export interface GrowthDay {
  /** UTC calendar day, `YYYY-MM-DD`. */
  date: string;
  confirmed: number;
  unsubscribed: number;
  suppressed: number;
  erased: number;
  /** confirmed − unsubscribed − suppressed − erased: the change in confirmed subscribers that day. */
  net: number;
}

export interface SubscriberGrowth {
  days: number;
  from: string;
  to: string;
  items: GrowthDay[];
  totals: Omit<GrowthDay, 'date'>;
}

const DAY_MS = 86_400_000;

/** The UTC days of a window of `days` days ending today, oldest first. */
export function growthWindow(days: number, now: Date): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: days }, (_, i) => new Date(today - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

/**
 * Net growth per UTC day over the last `days` days (today included), from the day counts of the marks.
 *
 * @example
 * growthPerDay(new Map([['2026-12-05', { confirmed: 2, unsubscribed: 1, suppressed: 0, erased: 0 }]]), 30, new Date('2026-12-06T08:00:00Z')).items.at(-2)
 * // { date: '2026-12-05', confirmed: 2, unsubscribed: 1, suppressed: 0, erased: 0, net: 1 }
 */
export function growthPerDay(counts: ReadonlyMap<string, Partial<Record<GrowthKind, number>>>, days: number, now: Date): SubscriberGrowth {
  const totals = { confirmed: 0, unsubscribed: 0, suppressed: 0, erased: 0, net: 0 };
  const items = growthWindow(days, now).map((date): GrowthDay => {
    const c = counts.get(date) ?? {};
    const d = { date, confirmed: c.confirmed ?? 0, unsubscribed: c.unsubscribed ?? 0, suppressed: c.suppressed ?? 0, erased: c.erased ?? 0, net: 0 };
    d.net = d.confirmed - d.unsubscribed - d.suppressed - d.erased;
    for (const k of [...GROWTH_KINDS, 'net'] as const) totals[k] += d[k];
    return d;
  });
  return { days, from: items[0]!.date, to: items.at(-1)!.date, items, totals };
}

/** {@link growthPerDay} for the window ending today: one read of that window's marks. */
export async function subscriberGrowth(deps: { growth: GrowthReader; clock: { now(): Date } }, days: number): Promise<SubscriberGrowth> {
  const now = deps.clock.now();
  const window = growthWindow(days, now);
  return growthPerDay(await deps.growth.countsByDay(window[0]!, window.at(-1)!), days, now);
}
