import { describe, expect, it } from 'vitest';
import { accountSendRate, deliverySettingsFrom, digestScheduleFrom, mailSettingsFrom, pacingFor, SendEnvSchema } from '../../lambdas/core/sends/settings.ts';
import type { SiteConfig } from '../../lambdas/core/site.ts';

const site = { title: 'Thin Line News', siteUrl: 'https://news.example.com' } as SiteConfig;

describe('delivery configuration from the environment', () => {
  it('has defaults for everything and refuses what would break sending', () => {
    const env = SendEnvSchema.parse({});
    expect(deliverySettingsFrom(env)).toMatchObject({ perBatch: 50, errorThreshold: 0.05, errorMinAttempts: 100 });
    expect(digestScheduleFrom(env)).toEqual({ daily: '08:00', weekly: { day: 1, time: '08:00' } });
    expect(mailSettingsFrom({ MAIL_FROM: 'news@news.example.com', SES_CONFIGURATION_SET_NEWSLETTER: 'inkwire-newsletter', SES_CONFIGURATION_SET_TRANSACTIONAL: 'inkwire-transactional' }, site)).toEqual({
      from: { name: 'Thin Line News', address: 'news@news.example.com' },
      configurationSet: 'inkwire-newsletter',
      transactionalConfigurationSet: 'inkwire-transactional',
      listId: 'Thin Line News <news.example.com>',
    });
    expect(digestScheduleFrom(SendEnvSchema.parse({ DIGEST_DAILY_AT: 'off', DIGEST_WEEKLY_AT: '5 17:30' }))).toEqual({ daily: undefined, weekly: { day: 5, time: '17:30' } });
    expect(SendEnvSchema.safeParse({ SEND_BATCH_SIZE: '51' }).success).toBe(false);
    expect(SendEnvSchema.safeParse({ DIGEST_DAILY_AT: '8am' }).success).toBe(false);
  });

  it('splits the account rate between concurrent workers, and reads it from SES when not configured', async () => {
    expect(pacingFor({ accountRate: 14, workers: 2, inFlight: 8 }).limiter.rate).toBe(7);
    // Room for two whole waves (a batch of 50 claimed in one write), or 4 per call slot when that is more.
    expect(pacingFor({ accountRate: 14, workers: 1, inFlight: 8 }).claims.capacity).toBe(100);
    expect(pacingFor({ accountRate: 14, workers: 1, inFlight: 40 }).claims.capacity).toBe(160);
    const quota = { getSendQuota: async () => ({ maxSendRate: 40, max24HourSend: 50_000, sentLast24Hours: 0 }) };
    expect(await accountSendRate(undefined, quota)).toBe(40);
    expect(await accountSendRate(10, quota)).toBe(10);
  });
});
