import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';

/** What a token lets its holder do. A token serves exactly one purpose. */
export type TokenPurpose = 'confirm' | 'preferences' | 'unsubscribe';

/**
 * Signs and checks the tokens in subscriber links. A token names one subscriber, one purpose and an
 * expiry; nothing else is needed to act on it, so the links work from any device without a session.
 */
export interface TokenSigner {
  sign(p: { subscriberId: string; purpose: TokenPurpose; expiresAt: Date }): string;
  /**
   * @throws AppError `subscriber.tokenInvalid` for a forged, malformed or wrong-purpose token;
   *   `subscriber.tokenExpired` for a genuine token past its expiry.
   */
  verify(token: string, purpose: TokenPurpose, now: Date): { subscriberId: string };
}

/** Shortest secret accepted, in bytes. */
export const MIN_TOKEN_SECRET_BYTES = 32;

const PURPOSES: readonly TokenPurpose[] = ['confirm', 'preferences', 'unsubscribe'];
const B64URL = /^[A-Za-z0-9_-]+$/;
const SUBSCRIBER_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Domain separation: a MAC made for anything else with the same key is never a valid token. */
const CONTEXT = 'inkwire.subscriber-token.v1\n';
/** Longer than any token we issue; refused before any work. */
const MAX_TOKEN_CHARS = 300;

const invalid = () =>
  new AppError('subscriber.tokenInvalid', 'this link is not valid: it may have been cut short or changed; use the link from your latest email');

/**
 * HMAC-SHA256 tokens: `base64url(purpose.subscriberId.expiry).base64url(mac)`. The MAC covers the whole
 * payload, so neither the subscriber, the purpose nor the expiry can be changed; comparison is constant-time.
 *
 * @example
 * ```ts
 * const signer = createTokenSigner(process.env.SUBSCRIBER_TOKEN_SECRET!);
 * const token = signer.sign({ subscriberId: s.id, purpose: 'unsubscribe', expiresAt: addDays(now, 400) });
 * signer.verify(token, 'unsubscribe', now); // { subscriberId: s.id }
 * ```
 */
export function createTokenSigner(secret: string | Uint8Array): TokenSigner {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (key.length < MIN_TOKEN_SECRET_BYTES) throw new Error(`the subscriber token secret must be at least ${MIN_TOKEN_SECRET_BYTES} bytes`);
  const mac = (payload: string) => createHmac('sha256', key).update(CONTEXT).update(payload).digest();

  return {
    sign({ subscriberId, purpose, expiresAt }) {
      if (!SUBSCRIBER_ID.test(subscriberId)) throw new Error(`not a subscriber id: ${subscriberId}`);
      if (!PURPOSES.includes(purpose)) throw new Error(`unknown token purpose: ${String(purpose)}`);
      const expiry = Math.floor(expiresAt.getTime() / 1000);
      if (!Number.isFinite(expiry)) throw new Error('expiresAt must be a valid date');
      const payload = Buffer.from(`${purpose}.${subscriberId}.${expiry.toString(36)}`, 'utf8').toString('base64url');
      return `${payload}.${mac(payload).toString('base64url')}`;
    },

    verify(token, purpose, now) {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) throw invalid();
      const parts = token.split('.');
      if (parts.length !== 2) throw invalid();
      const [payload, signature] = parts as [string, string];
      if (!B64URL.test(payload) || !B64URL.test(signature)) throw invalid();
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(payload);
      // Compare full-length buffers only; a short signature is refused without a timing-revealing compare.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
      const fields = Buffer.from(payload, 'base64url').toString('utf8').split('.');
      if (fields.length !== 3) throw invalid();
      const [p, subscriberId, expiry] = fields as [string, string, string];
      if (p !== purpose || !SUBSCRIBER_ID.test(subscriberId) || !/^[0-9a-z]+$/.test(expiry)) throw invalid();
      if (parseInt(expiry, 36) * 1000 <= now.getTime()) {
        throw new AppError(
          'subscriber.tokenExpired',
          purpose === 'confirm'
            ? 'this confirmation link has expired; subscribe again to get a new one'
            : 'this link has expired; use the link from a more recent email',
        );
      }
      return { subscriberId };
    },
  };
}
