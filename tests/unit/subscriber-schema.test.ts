import { describe, expect, it } from 'vitest';
import { emailHash, inAudience, SubscribeInputSchema, PreferencesInputSchema } from '../../lambdas/core/subscribers/schema.ts';
import { subscriberLinks, tokenFromMailtoSubject, confirmationLink } from '../../lambdas/core/subscribers/links.ts';
import { createTokenSigner } from '../../lambdas/core/subscribers/tokens.ts';
import { csvField } from '../../lambdas/core/subscribers/export.ts';
import type { SiteConfig } from '../../lambdas/core/site.ts';

const site = { publicUrl: 'https://news.example.com', siteUrl: 'https://news.example.com' } as SiteConfig;
const signer = createTokenSigner('s'.repeat(32));
const now = new Date('2024-02-11T10:00:00.000Z');

const issues = (input: unknown) => {
  const r = SubscribeInputSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('subscribe input', () => {
  it('accepts an address with a name, frequency and topics, trimming and slugifying', () => {
    const r = SubscribeInputSchema.parse({
      email: '  Ada@Example.com ',
      name: '  Ada   Lovelace ',
      frequency: 'weekly',
      topics: ['Science', 'science', 'Middle East'],
    });
    expect(r).toEqual({ email: 'Ada@Example.com', name: 'Ada Lovelace', frequency: 'weekly', topics: ['science', 'middle-east'] });
  });

  it.each([
    ['no at sign', 'ada.example.com'],
    ['a display name', 'Ada <ada@example.com>'],
    ['two addresses', 'a@example.com,b@example.com'],
    ['a header injection', 'ada@example.com\r\nBcc: victim@example.com'],
    ['no dot in the domain', 'ada@localhost'],
    ['whitespace inside', 'ada lovelace@example.com'],
  ])('refuses an address with %s', (_why, email) => {
    expect(issues({ email })[0]).toMatch(/^email: /);
  });

  it('refuses CR or LF in a name (header injection) and control characters', () => {
    expect(issues({ email: 'a@example.com', name: 'Ada\r\nBcc: x@example.com' })).toEqual(['name: must be one line (no CR or LF)']);
    expect(issues({ email: 'a@example.com', name: 'Ada\nLovelace' })).toEqual(['name: must be one line (no CR or LF)']);
    expect(issues({ email: 'a@example.com', name: 'Ada\u0007' })).toEqual(['name: must not contain control characters']);
  });

  it('refuses unknown frequencies and unknown fields', () => {
    expect(issues({ email: 'a@example.com', frequency: 'hourly' })[0]).toMatch(/^frequency:/);
    expect(issues({ email: 'a@example.com', status: 'confirmed' })[0]).toMatch(/status|unrecognized/i);
  });

  it('preferences need a frequency, topics and paused', () => {
    expect(PreferencesInputSchema.safeParse({ frequency: 'daily', topics: [], paused: false }).success).toBe(true);
    expect(PreferencesInputSchema.safeParse({ frequency: 'daily', topics: [] }).success).toBe(false);
  });
});

describe('email hash and audience', () => {
  it('hashes the lower-cased, trimmed address', () => {
    expect(emailHash(' Ada@Example.COM ')).toBe(emailHash('ada@example.com'));
    expect(emailHash('ada@example.com')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('only confirmed, unpaused subscribers are in the audience', () => {
    expect(inAudience({ status: 'confirmed', paused: false })).toBe(true);
    expect(inAudience({ status: 'confirmed', paused: true })).toBe(false);
    for (const status of ['pending', 'unsubscribed', 'suppressed'] as const) expect(inAudience({ status, paused: false })).toBe(false);
  });
});

describe('subscriber links', () => {
  it('signs unsubscribe and preference links for 400 days on the public origin', () => {
    const links = subscriberLinks(site, signer, 'sub1', now);
    const unsub = new URL(links.unsubscribeUrl);
    expect(`${unsub.origin}${unsub.pathname}`).toBe('https://news.example.com/unsubscribe');
    expect(signer.verify(unsub.searchParams.get('token')!, 'unsubscribe', new Date(now.getTime() + 399 * 86_400_000))).toEqual({ subscriberId: 'sub1' });
    expect(() => signer.verify(unsub.searchParams.get('token')!, 'unsubscribe', new Date(now.getTime() + 400 * 86_400_000))).toThrow(/expired/);
    const prefs = new URL(links.preferencesUrl);
    expect(prefs.pathname).toBe('/preferences');
    expect(signer.verify(prefs.searchParams.get('token')!, 'preferences', now)).toEqual({ subscriberId: 'sub1' });
    expect(links.unsubscribeMailto).toBeUndefined();
  });

  it('adds a mailto whose subject carries the unsubscribe token, which the mail handler reads back', () => {
    const links = subscriberLinks(site, signer, 'sub1', now, 'unsubscribe@news.example.com');
    expect(links.unsubscribeMailto).toMatch(/^mailto:unsubscribe@news\.example\.com\?subject=unsubscribe%20[A-Za-z0-9_.-]+$/);
    expect(links.unsubscribeMailto).not.toMatch(/[<>,\s]/);
    const subject = decodeURIComponent(links.unsubscribeMailto!.split('subject=')[1]!);
    const token = tokenFromMailtoSubject(`Re: ${subject}`)!;
    expect(signer.verify(token, 'unsubscribe', now)).toEqual({ subscriberId: 'sub1' });
    expect(tokenFromMailtoSubject('hello')).toBeUndefined();
  });

  it('confirmation links carry a confirm token only', () => {
    const token = new URL(confirmationLink(site, signer, 'sub1', now)).searchParams.get('token')!;
    expect(signer.verify(token, 'confirm', now)).toEqual({ subscriberId: 'sub1' });
    expect(() => signer.verify(token, 'unsubscribe', now)).toThrow(/not valid/);
  });
});

describe('CSV export fields', () => {
  it('quotes and guards against spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('@cmd')).toBe("'@cmd");
  });
});
