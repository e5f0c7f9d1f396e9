/**
 * The delivery engine's configuration, as environment variables with defaults. Both composition roots
 * extend their environment schema with {@link SendEnvSchema} and build the engine's settings from it;
 * nothing here reads the environment itself.
 */
import * as z from 'zod';
import { formatListId, listIdentifierFor, type Mailer } from '../email/message.ts';
import type { SiteConfig } from '../site.ts';
import { claimPermitsFor, DEFAULT_DELIVERY_SETTINGS, type DeliveryDeps, type DeliverySettings, type MailSettings } from './deps.ts';
import { Permits, perWorkerRate, realSleep, Semaphore, SlidingWindowLimiter, type Now, type Sleep } from './pacing.ts';

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24 h, UTC), e.g. 08:00');

export const SendEnvSchema = z.object({
  /** The account's SES MaxSendRate (messages per second); read with GetSendQuota when absent. */
  SES_MAX_SEND_RATE: z.coerce.number().positive().max(10_000).optional(),
  /** Workers sending at once: the send queue's maximum concurrency (AWS) or the in-process queue's. The rate is split between them. */
  SEND_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(2),
  /** SES calls in flight per worker process. */
  SEND_IN_FLIGHT: z.coerce.number().int().min(1).max(100).default(8),
  /** Recipients per queue message. */
  SEND_BATCH_SIZE: z.coerce.number().int().min(1).max(50).default(DEFAULT_DELIVERY_SETTINGS.perBatch),
  /** Pause a send when more than this share of attempts failed... */
  SEND_ERROR_THRESHOLD: z.coerce.number().min(0).max(1).default(DEFAULT_DELIVERY_SETTINGS.errorThreshold),
  /** ...after at least this many attempts. */
  SEND_ERROR_MIN_ATTEMPTS: z.coerce.number().int().min(1).default(DEFAULT_DELIVERY_SETTINGS.errorMinAttempts),
  /** Local runtime: the daily digest's time (UTC), or `off`. */
  DIGEST_DAILY_AT: z.union([z.literal('off'), time]).default('08:00'),
  /** Local runtime: the weekly digest's day (0 = Sunday) and time (UTC), e.g. `1 08:00`, or `off`. */
  DIGEST_WEEKLY_AT: z.union([z.literal('off'), z.string().regex(/^[0-6] ([01]\d|2[0-3]):[0-5]\d$/, 'must be "<day 0-6> HH:MM", e.g. "1 08:00" for Mondays')]).default('1 08:00'),
  /** AWS: the send queue's URL. */
  SEND_QUEUE_URL: z.string().url().optional(),
});
export type SendEnv = z.infer<typeof SendEnvSchema>;

export function deliverySettingsFrom(env: SendEnv): DeliverySettings {
  return { ...DEFAULT_DELIVERY_SETTINGS, perBatch: env.SEND_BATCH_SIZE, errorThreshold: env.SEND_ERROR_THRESHOLD, errorMinAttempts: env.SEND_ERROR_MIN_ATTEMPTS };
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

/** The account's sending rate: the configured one, else what SES's GetSendQuota says. */
export async function accountSendRate(configured: number | undefined, mailer: Pick<Mailer, 'getSendQuota'>): Promise<number> {
  if (configured) return configured;
  const { maxSendRate } = await mailer.getSendQuota();
  if (!(maxSendRate > 0)) throw new Error('GetSendQuota reported no sending rate; set SES_MAX_SEND_RATE');
  return maxSendRate;
}

/**
 * The per-process pacing parts of {@link DeliveryDeps}: this process's share of the account's rate
 * (`accountRate / workers`: each concurrent worker gets an equal share, so together they never exceed
 * it), the provider call slots, and the claim permits ({@link claimPermitsFor}). In AWS `workers` is the send queue's
 * maximum concurrency; locally every worker runs in one process and shares one limiter, so pass 1.
 */
export function pacingFor(o: { accountRate: number; workers: number; inFlight: number; now?: Now; sleep?: Sleep }): Pick<DeliveryDeps, 'limiter' | 'providerSlots' | 'claims' | 'sleep'> {
  const sleep = o.sleep ?? realSleep;
  return {
    limiter: new SlidingWindowLimiter({ rate: perWorkerRate(o.accountRate, o.workers), now: o.now, sleep }),
    providerSlots: new Semaphore(o.inFlight),
    claims: new Permits(claimPermitsFor(o.inFlight)),
    sleep,
  };
}
