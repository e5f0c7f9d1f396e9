import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createTokenSigner, type TokenPurpose } from '../../lambdas/core/subscribers/tokens.ts';
import { AppError } from '../../lambdas/core/errors.ts';

const SECRET = 'k'.repeat(32);
const now = new Date('2024-02-11T10:00:00.000Z');
const inADay = new Date('2024-02-12T10:00:00.000Z');
const signer = createTokenSigner(SECRET);
const sign = (purpose: TokenPurpose = 'unsubscribe', subscriberId = '01hq0z8k2m4n6p8r0t2v4x6y8z', expiresAt = inADay) =>
  signer.sign({ subscriberId, purpose, expiresAt });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('subscriber tokens', () => {
  it('round-trips the subscriber id for the purpose it was signed for', () => {
    for (const purpose of ['confirm', 'preferences', 'unsubscribe'] as const) {
      expect(signer.verify(sign(purpose), purpose, now)).toEqual({ subscriberId: '01hq0z8k2m4n6p8r0t2v4x6y8z' });
    }
  });

  it('is URL-safe and short enough for a header', () => {
    const t = sign();
    expect(t).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(t.length).toBeLessThan(120);
  });

  it('refuses a token made for another purpose (a confirm token cannot unsubscribe, and back)', () => {
    expect(codeOf(() => signer.verify(sign('confirm'), 'unsubscribe', now))).toBe('subscriber.tokenInvalid');
    expect(codeOf(() => signer.verify(sign('unsubscribe'), 'confirm', now))).toBe('subscriber.tokenInvalid');
    expect(codeOf(() => signer.verify(sign('preferences'), 'unsubscribe', now))).toBe('subscriber.tokenInvalid');
  });

  it('refuses an expired token with its own code, and accepts it just before', () => {
    const t = sign('preferences');
    expect(codeOf(() => signer.verify(t, 'preferences', new Date(inADay.getTime() - 1000)))).toBe('accepted');
    expect(codeOf(() => signer.verify(t, 'preferences', inADay))).toBe('subscriber.tokenExpired');
  });

  it('refuses a token signed with another key', () => {
    const other = createTokenSigner('x'.repeat(32));
    expect(codeOf(() => signer.verify(other.sign({ subscriberId: 'abc', purpose: 'unsubscribe', expiresAt: inADay }), 'unsubscribe', now))).toBe(
      'subscriber.tokenInvalid',
    );
  });

  it('refuses a payload changed to another subscriber, purpose or expiry', () => {
    const [payload, mac] = sign('confirm', 'abc').split('.') as [string, string];
    const decoded = Buffer.from(payload, 'base64url').toString();
    for (const forged of [decoded.replace('abc', 'abd'), decoded.replace('confirm', 'unsubscribe'), decoded.replace(/\.[0-9a-z]+$/, '.zzzzzzz')]) {
      const t = `${Buffer.from(forged).toString('base64url')}.${mac}`;
      expect(codeOf(() => signer.verify(t, 'confirm', now))).toBe('subscriber.tokenInvalid');
    }
  });

  it('refuses malformed tokens without throwing anything else', () => {
    const t = sign();
    for (const bad of ['', '.', 'abc', `${t}.x`, t.slice(0, -2), t.replace('.', '..'), `${t.split('.')[0]}.`, `${t}=`, 'a'.repeat(400), '<script>.x']) {
      expect(codeOf(() => signer.verify(bad, 'unsubscribe', now))).toBe('subscriber.tokenInvalid');
    }
  });

  it('uses the key with domain separation: a bare HMAC of the payload is not a token', () => {
    const payload = sign().split('.')[0]!;
    const bare = createHmac('sha256', SECRET).update(payload).digest('base64url');
    expect(codeOf(() => signer.verify(`${payload}.${bare}`, 'unsubscribe', now))).toBe('subscriber.tokenInvalid');
  });

  it('refuses a short secret', () => {
    expect(() => createTokenSigner('short')).toThrow(/at least 32 bytes/);
    expect(() => createTokenSigner(new Uint8Array(32))).not.toThrow();
  });
});
