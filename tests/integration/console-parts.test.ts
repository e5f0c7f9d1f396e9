/**
 * The console's pure parts, without a server: the session cookie and its CSRF token, net growth per day,
 * and the DNS checks of the settings page (with a stand-in resolver: the real one needs the network).
 */
import { describe, expect, it } from 'vitest';
import { csrfToken, csrfValid, issueSession, readSession, sessionKey } from '../../lambdas/http/console/session.ts';
import { growthMarkOf, growthPerDay, growthWindow } from '../../lambdas/core/subscribers/growth.ts';
import type { Subscriber } from '../../lambdas/core/subscribers/schema.ts';
import { checkDns, type DnsLookup } from '../../lambdas/http/console/settings.ts';

const NOW = Date.parse('2026-12-06T08:00:00Z');

describe('console session', () => {
  const key = sessionKey('publisher-key');

  it('reads back what it issued, for 12 hours, and names the key that signed it', () => {
    const { value, session } = issueSession(key, NOW);
    expect(session.exp).toBe(NOW + 12 * 3_600_000);
    expect(readSession(value, [sessionKey('old-key'), key], NOW + 3_600_000)).toEqual({ session, key });
    expect(readSession(value, [key], NOW + 12 * 3_600_000)).toBeUndefined();
  });

  it('refuses another key, a changed payload or signature, and junk', () => {
    const { value } = issueSession(key, NOW);
    const [payload, sig] = value.split('.') as [string, string];
    const longer = Buffer.from(JSON.stringify({ exp: NOW + 1e12, nonce: 'n' })).toString('base64url');
    expect(readSession(value, [sessionKey('other-key')], NOW)).toBeUndefined();
    expect(readSession(`${longer}.${sig}`, [key], NOW)).toBeUndefined();
    expect(readSession(`${payload}.${sig}x`, [key], NOW)).toBeUndefined();
    expect(readSession(`${payload}`, [key], NOW)).toBeUndefined();
    expect(readSession('', [key], NOW)).toBeUndefined();
    expect(readSession(`${'a'.repeat(600)}.${sig}`, [key], NOW)).toBeUndefined();
    expect(readSession(undefined, [key], NOW)).toBeUndefined();
  });

  it('derives a different key from each API key, and holds nothing of the key in the cookie', () => {
    expect(sessionKey('a').equals(sessionKey('b'))).toBe(false);
    const { value } = issueSession(sessionKey('publisher-key'), NOW);
    expect(value).not.toContain('publisher-key');
    expect(Buffer.from(value.split('.')[0]!, 'base64url').toString()).not.toContain('publisher-key');
  });

  it('gives each session its own CSRF token, valid only for that session and key', () => {
    const a = issueSession(key, NOW).session;
    const b = issueSession(key, NOW).session;
    expect(csrfToken(key, a)).not.toBe(csrfToken(key, b));
    expect(csrfValid(key, a, csrfToken(key, a))).toBe(true);
    expect(csrfValid(key, a, csrfToken(key, b))).toBe(false);
    expect(csrfValid(sessionKey('other'), a, csrfToken(key, a))).toBe(false);
    expect(csrfValid(key, a, undefined)).toBe(false);
    expect(csrfValid(key, a, '')).toBe(false);
  });
});

describe('growth per day', () => {
  const now = new Date(NOW);
  it('has one zeroed entry per day, oldest first, today last', () => {
    const g = growthPerDay(new Map(), 30, now);
    expect(g.items).toHaveLength(30);
    expect(g.from).toBe('2026-11-07');
    expect(g.to).toBe('2026-12-06');
    expect(g.items.every((d) => d.confirmed === 0 && d.net === 0)).toBe(true);
    expect(growthWindow(90, now)).toHaveLength(90);
    expect(growthWindow(90, now)[0]).toBe('2026-09-08');
  });

  it('nets each day\u2019s counts and totals the window; days outside it are left out', () => {
    const g = growthPerDay(
      new Map([
        ['2026-12-05', { confirmed: 2, unsubscribed: 1 }],
        ['2026-12-06', { suppressed: 1, erased: 1 }],
        ['2026-10-01', { confirmed: 7 }],
      ]),
      30,
      now,
    );
    const day = (date: string) => g.items.find((d) => d.date === date);
    expect(day('2026-12-05')).toEqual({ date: '2026-12-05', confirmed: 2, unsubscribed: 1, suppressed: 0, erased: 0, net: 1 });
    expect(day('2026-12-06')).toEqual({ date: '2026-12-06', confirmed: 0, unsubscribed: 0, suppressed: 1, erased: 1, net: -2 });
    expect(g.totals).toEqual({ confirmed: 2, unsubscribed: 1, suppressed: 1, erased: 1, net: -1 });
  });

  describe('the mark a subscriber write makes', () => {
    const s = (status: Subscriber['status'], version = 1) => ({ id: 'sub1', status, version, updatedAt: '2026-12-05T23:59:59Z' });
    it('counts joining the confirmed list, from any other status', () => {
      for (const from of [undefined, s('pending'), s('unsubscribed'), s('suppressed')])
        expect(growthMarkOf(from, s('confirmed', 2))).toEqual({ day: '2026-12-05', kind: 'confirmed', subscriberId: 'sub1', version: 2 });
    });
    it('counts leaving it: unsubscribed, suppressed, erased (dated by the erasure, with the next version)', () => {
      expect(growthMarkOf(s('confirmed'), s('unsubscribed', 2))?.kind).toBe('unsubscribed');
      expect(growthMarkOf(s('confirmed'), s('suppressed', 2))?.kind).toBe('suppressed');
      expect(growthMarkOf(s('confirmed', 4), undefined, '2026-12-06T01:00:00Z')).toEqual({
        day: '2026-12-06',
        kind: 'erased',
        subscriberId: 'sub1',
        version: 5,
      });
    });
    it('counts nothing that leaves the list as it was', () => {
      expect(growthMarkOf(s('confirmed'), s('confirmed', 2))).toBeUndefined(); // a preference change, a pause
      expect(growthMarkOf(undefined, s('pending'))).toBeUndefined();
      expect(growthMarkOf(s('pending'), s('suppressed', 2))).toBeUndefined(); // the confirmation bounced
      expect(growthMarkOf(s('pending'), undefined, '2026-12-06T01:00:00Z')).toBeUndefined();
    });
  });
});

describe('DNS checks', () => {
  const records: Record<string, string[]> = {
    'TXT mail.example.org': ['v=spf1 include:amazonses.com ~all'],
    'MX mail.example.org': ['10 feedback-smtp.eu-west-1.amazonses.com'],
    'TXT _dmarc.example.org': ['v=DMARC1; p=quarantine; rua=mailto:d@example.org'],
    'CNAME tok1._domainkey.example.org': ['tok1.dkim.amazonses.com'],
    'CNAME tok2._domainkey.example.org': ['wrong.example.net'],
  };
  const lookup: DnsLookup = async (name, type) => {
    if (name.startsWith('timeout.')) throw Object.assign(new Error('timed out'), { code: 'ETIMEOUT' });
    const found = records[`${type} ${name}`];
    if (!found) throw Object.assign(new Error('no data'), { code: 'ENODATA' });
    return found;
  };

  it('says which records resolve as expected and which do not', async () => {
    const checks = await checkDns(
      { domain: 'example.org', mailFromDomain: 'mail.example.org', region: 'eu-west-1', dkimTokens: ['tok1', 'tok2', 'tok3'] },
      lookup,
    );
    const by = (purpose: string, name: string) => checks.find((c) => c.purpose === purpose && c.name === name);
    expect(by('SPF', 'mail.example.org')?.ok).toBe(true);
    expect(by('MAIL FROM', 'mail.example.org')?.ok).toBe(true);
    expect(by('DMARC', '_dmarc.example.org')?.ok).toBe(true);
    expect(by('DKIM', 'tok1._domainkey.example.org')?.ok).toBe(true);
    expect(by('DKIM', 'tok2._domainkey.example.org')).toMatchObject({ ok: false, found: ['wrong.example.net'] });
    expect(by('DKIM', 'tok3._domainkey.example.org')).toMatchObject({ ok: false, note: 'no such record' });
  });

  it('reports a region mismatch, and a lookup that could not be made as not checked', async () => {
    const wrongRegion = await checkDns({ domain: 'example.org', mailFromDomain: 'mail.example.org', region: 'us-east-1' }, lookup);
    expect(wrongRegion.find((c) => c.purpose === 'MAIL FROM')?.ok).toBe(false);
    // Without tokens DKIM is listed but not checked.
    expect(wrongRegion.find((c) => c.purpose === 'DKIM')?.ok).toBeUndefined();
    const offline = await checkDns({ domain: 'example.org', mailFromDomain: 'timeout.example.org' }, lookup);
    const spf = offline.find((c) => c.purpose === 'SPF');
    expect(spf?.ok).toBeUndefined();
    expect(spf?.note).toContain('ETIMEOUT');
  });
});
