import { describe, expect, it } from 'vitest';
import { deliverySettingsFrom, digestScheduleFrom, mailSettingsFrom, pacingFor, SendEnvSchema } from '../../lambdas/core/sends/settings.ts';
import { deploymentLimits } from '../../infra/limits.ts';
import { engineLimits } from '../../lambdas/compose/sending.ts';
import type { SiteConfig } from '../../lambdas/core/site.ts';

const site = { title: 'Thin Line News', siteUrl: 'https://news.example.com' } as SiteConfig;

describe('delivery configuration from the environment', () => {
  it('has defaults for everything and refuses what would break sending', () => {
    const env = SendEnvSchema.parse({});
    // At 14/s two workers share the rate; a message holds about 20 s of one worker's share (capped at 50).
    expect(deliverySettingsFrom(env, engineLimits(deploymentLimits(14)))).toMatchObject({
      perBatch: 50,
      reserveMs: 30_000,
      planBudgetMs: 60_000,
      errorThreshold: 0.05,
      errorMinAttempts: 100,
    });
    // At a new account's 1/s: 10 recipients per message, so both workers have work and none runs out of time.
    expect(deliverySettingsFrom(env, engineLimits(deploymentLimits(1))).perBatch).toBe(10);
    expect(deliverySettingsFrom(SendEnvSchema.parse({ SEND_BATCH_SIZE: '7' }), engineLimits(deploymentLimits(1))).perBatch).toBe(7);
    expect(digestScheduleFrom(env)).toEqual({ daily: '08:00', weekly: { day: 1, time: '08:00' } });
    expect(
      mailSettingsFrom(
        {
          MAIL_FROM: 'news@news.example.com',
          SES_CONFIGURATION_SET_NEWSLETTER: 'inkwire-newsletter',
          SES_CONFIGURATION_SET_TRANSACTIONAL: 'inkwire-transactional',
        },
        site,
      ),
    ).toEqual({
      from: { name: 'Thin Line News', address: 'news@news.example.com' },
      configurationSet: 'inkwire-newsletter',
      transactionalConfigurationSet: 'inkwire-transactional',
      listId: 'Thin Line News <news.example.com>',
    });
    expect(digestScheduleFrom(SendEnvSchema.parse({ DIGEST_DAILY_AT: 'off', DIGEST_WEEKLY_AT: '5 17:30' }))).toEqual({
      daily: undefined,
      weekly: { day: 5, time: '17:30' },
    });
    expect(SendEnvSchema.safeParse({ SEND_BATCH_SIZE: '51' }).success).toBe(false);
    expect(SendEnvSchema.safeParse({ DIGEST_DAILY_AT: '8am' }).success).toBe(false);
  });

  it('paces to the shared rate with the given call slots', async () => {
    const pacing = pacingFor({ ledger: { reserve: async (_n, _s, now) => now }, pacedRate: 13.72, reservationMs: 500, inFlight: 8 });
    expect(pacing.limiter.rate).toBe(13.72);
    expect(pacing.providerSlots.capacity).toBe(8);
  });
});
