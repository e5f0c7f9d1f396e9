import type { SubscriberRepository } from './ports.ts';
import type { Subscriber } from './schema.ts';

/** The windows the growth chart offers. */
export const GROWTH_WINDOWS = [30, 90] as const;
export type GrowthWindow = (typeof GROWTH_WINDOWS)[number];

export interface GrowthDay {
  /** UTC calendar day, `YYYY-MM-DD`. */
  date: string;
  confirmed: number;
  unsubscribed: number;
  suppressed: number;
  /** confirmed − unsubscribed − suppressed. */
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
const dayOf = (iso: string | undefined) => (iso && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toISOString().slice(0, 10) : undefined);

/**
 * Net growth per UTC day over the last `days` days (today included), from each subscriber's own dates:
 * `confirmedAt` counts a confirmation, `unsubscribedAt` an unsubscribe, and a suppressed subscriber's
 * last change (`updatedAt`, the write that suppressed them) a suppression. An erased subscriber leaves
 * only a hash on the suppression list, so erasures are not in the chart.
 *
 * @example
 * growthPerDay([{ ...s, confirmedAt: '2026-12-05T10:00:00Z' }], 30, new Date('2026-12-06T08:00:00Z')).items.at(-2)
 * // { date: '2026-12-05', confirmed: 1, unsubscribed: 0, suppressed: 0, net: 1 }
 */
export function growthPerDay(
  subscribers: Iterable<Pick<Subscriber, 'status' | 'confirmedAt' | 'unsubscribedAt' | 'updatedAt'>>,
  days: number,
  now: Date,
): SubscriberGrowth {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const byDay = new Map<string, GrowthDay>();
  for (let i = days - 1; i >= 0; i--) {
    const date = new Date(today - i * DAY_MS).toISOString().slice(0, 10);
    byDay.set(date, { date, confirmed: 0, unsubscribed: 0, suppressed: 0, net: 0 });
  }
  const bump = (date: string | undefined, field: 'confirmed' | 'unsubscribed' | 'suppressed') => {
    const day = date ? byDay.get(date) : undefined;
    if (day) day[field]++;
  };
  for (const s of subscribers) {
    bump(dayOf(s.confirmedAt), 'confirmed');
    if (s.status === 'unsubscribed') bump(dayOf(s.unsubscribedAt), 'unsubscribed');
    if (s.status === 'suppressed') bump(dayOf(s.updatedAt), 'suppressed');
  }
  const items = [...byDay.values()];
  const totals = { confirmed: 0, unsubscribed: 0, suppressed: 0, net: 0 };
  for (const d of items) {
    d.net = d.confirmed - d.unsubscribed - d.suppressed;
    totals.confirmed += d.confirmed;
    totals.unsubscribed += d.unsubscribed;
    totals.suppressed += d.suppressed;
    totals.net += d.net;
  }
  return { days, from: items[0]!.date, to: items.at(-1)!.date, items, totals };
}

/** {@link growthPerDay} over every subscriber, read page by page (one full read of the subscriber list). */
export async function subscriberGrowth(
  deps: { subscribers: Pick<SubscriberRepository, 'all'>; clock: { now(): Date } },
  days: number,
): Promise<SubscriberGrowth> {
  const dated: Pick<Subscriber, 'status' | 'confirmedAt' | 'unsubscribedAt' | 'updatedAt'>[] = [];
  for await (const s of deps.subscribers.all())
    dated.push({ status: s.status, confirmedAt: s.confirmedAt, unsubscribedAt: s.unsubscribedAt, updatedAt: s.updatedAt });
  return growthPerDay(dated, days, deps.clock.now());
}
