import { describe, expect, it } from 'vitest';
import { defaultCopyright, siteConfigFrom, SiteEnvSchema } from '../../lambdas/config.ts';

describe('the feeds\u2019 default copyright line', () => {
  it('runs from the year the site began to this year, not TAG_DATE\u2019s year alone', () => {
    expect(defaultCopyright('Thin Line News', '2024', new Date('2026-12-06T00:00:00Z'))).toBe('Copyright 2024\u20132026 Thin Line News');
    expect(defaultCopyright('Thin Line News', '2026-01-15', new Date('2026-12-06T00:00:00Z'))).toBe('Copyright 2026 Thin Line News');
  });

  it('is what the site configuration carries unless SITE_COPYRIGHT says otherwise', () => {
    const env = SiteEnvSchema.parse({ SITE_TITLE: 'Thin Line News', TAG_DATE: '2024' });
    expect(siteConfigFrom(env, 'http://localhost:3000', new Date('2026-03-01T00:00:00Z')).copyright).toBe('Copyright 2024\u20132026 Thin Line News');
    expect(siteConfigFrom({ ...env, SITE_COPYRIGHT: '\u00a9 Thin Line News LLC' }, 'http://localhost:3000').copyright).toBe('\u00a9 Thin Line News LLC');
  });
});
