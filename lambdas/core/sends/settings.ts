/**
 * The delivery engine's configuration, as environment variables with defaults. Both composition roots
 * extend their environment schema with {@link SendEnvSchema} and build the engine's settings from it;
 * nothing here reads the environment itself.
 */
import * as z from 'zod';
import { formatListId, listIdentifierFor } from '../email/message.ts';
import type { SiteConfig } from '../site.ts';
import { DEFAULT_DELIVERY_SETTINGS, type DeliveryDeps, type DeliverySettings, type MailSettings } from './deps.ts';
import { realSleep, Semaphore, SharedRateLimiter, type Now, type RateLedger, type Sleep } from './pacing.ts';

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h, UTC), e.g. 08:00');

export const SendEnvSchema = z.object({
  /** The account's SES MaxSendRate (messages per second): the stacks set it from `sesMaxSendRate`; locally 14 when absent. */
  SES_MAX_SEND_RATE: z.coerce.number().positive().max(10_000).optional(),
  /** Test override of the recipients per queue message (the deployment limits size them by default). */
  SEND_BATCH_SIZE: z.coerce.number().int().min(1).max(50).optional(),
  /** Pause a send when more than this share of attempts failed... */
  SEND_ERROR_THRESHOLD: z.coerce.number().min(0).max(1).default(DEFAULT_DELIVERY_SETTINGS.errorThreshold),
  /** ...after at least this many attempts. */
  SEND_ERROR_MIN_ATTEMPTS: z.coerce.number().int().min(1).default(DEFAULT_DELIVERY_SETTINGS.errorMinAttempts),
  /** Local runtime: the daily digest's time (UTC), or `off`. */
  DIGEST_DAILY_AT: z.union([z.literal('off'), time]).default('08:00'),
  /** Local runtime: the weekly digest's day (0 = Sunday) and time (UTC), e.g. `1 08:00`, or `off`. */
  DIGEST_WEEKLY_AT: z
    .union([z.literal('off'), z.string().regex(/^[0-6] ([01]\d|2[0-3]):[0-5]\d$/, 'must be "<day 0-6> HH:MM", e.g. "1 08:00" for Mondays')])
    .default('1 08:00'),
  /** AWS: the send queue's URL. */
  SEND_QUEUE_URL: z.string().url().optional(),
});
export type SendEnv = z.infer<typeof SendEnvSchema>;

/** What the deployment limits say about the engine (infra/limits.ts, mapped by each runtime's composition). */
export interface EngineLimits {
  /** Recipients per queue message. */
  perBatch: number;
  /** The worker's reserve before its timeout. */
  reserveMs: number;
  /** How long one planner invocation pages. */
  planBudgetMs: number;
  /** A message throttled through a whole run hands on after this delay, doubled per stall (infra/limits.ts). */
  stallDelaySeconds: number;
  maxStalls: number;
}

export function deliverySettingsFrom(env: SendEnv, limits: EngineLimits): DeliverySettings {
  return {
    ...DEFAULT_DELIVERY_SETTINGS,
    perBatch: env.SEND_BATCH_SIZE ?? limits.perBatch,
    reserveMs: limits.reserveMs,
    planBudgetMs: limits.planBudgetMs,
    stallDelaySeconds: limits.stallDelaySeconds,
    maxStalls: limits.maxStalls,
    errorThreshold: env.SEND_ERROR_THRESHOLD,
    errorMinAttempts: env.SEND_ERROR_MIN_ATTEMPTS,
  };
}

/** Newsletter addressing from the mail configuration the subscriber mail uses too (config.ts `MailEnvSchema`). */
export function mailSettingsFrom(
  env: { MAIL_FROM: string; MAIL_FROM_NAME?: string | undefined; SES_CONFIGURATION_SET_NEWSLETTER: string; SES_CONFIGURATION_SET_TRANSACTIONAL: string },
  site: SiteConfig,
): MailSettings {
  return {
    from: { name: env.MAIL_FROM_NAME ?? site.title, address: env.MAIL_FROM },
    configurationSet: env.SES_CONFIGURATION_SET_NEWSLETTER,
    transactionalConfigurationSet: env.SES_CONFIGURATION_SET_TRANSACTIONAL,
    listId: formatListId(site.title, listIdentifierFor(site.siteUrl)),
  };
}

/** When the recurring digests go out (UTC). */
export interface DigestSchedule {
  /** `HH:MM` every day; no daily digest when absent. */
  daily?: string | undefined;
  /** Day of the week (0 = Sunday ... 6 = Saturday) and `HH:MM`; no weekly digest when absent. */
  weekly?: { day: number; time: string } | undefined;
}

export function digestScheduleFrom(env: SendEnv): DigestSchedule {
  const weekly = env.DIGEST_WEEKLY_AT === 'off' ? undefined : env.DIGEST_WEEKLY_AT.split(' ');
  return {
    daily: env.DIGEST_DAILY_AT === 'off' ? undefined : env.DIGEST_DAILY_AT,
    weekly: weekly ? { day: Number(weekly[0]), time: weekly[1]! } : undefined,
  };
}

/**
 * The per-process pacing parts of {@link DeliveryDeps}: a limiter that takes its instants from the
 * account's shared {@link RateLedger} (so every worker and the API together keep to `pacedRate`), and the
 * provider call slots.
 */
export function pacingFor(o: {
  ledger: RateLedger;
  pacedRate: number;
  reservationMs: number;
  inFlight: number;
  now?: Now;
  sleep?: Sleep;
}): Pick<DeliveryDeps, 'limiter' | 'providerSlots' | 'sleep'> {
  const sleep = o.sleep ?? realSleep;
  return {
    limiter: new SharedRateLimiter(o.ledger, { rate: o.pacedRate, reservationMs: o.reservationMs, now: o.now, sleep }),
    providerSlots: new Semaphore(o.inFlight),
    sleep,
  };
}
