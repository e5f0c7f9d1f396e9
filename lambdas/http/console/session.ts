import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a console session lasts after sign-in. */
export const SESSION_HOURS = 12;
export const SESSION_COOKIE = 'inkwire_console';
/** The `__Host-` prefix makes the browser refuse the cookie unless it is Secure, host-only and at `/`. */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;

export interface Session {
  /** Expiry, ms since the epoch. */
  exp: number;
  /** Random per session: the CSRF token is derived from it. */
  nonce: string;
}

/**
 * The key that signs sessions, derived from the publisher API key: rotating the API key ends every
 * session, and nothing of the key itself reaches the browser.
 */
export function sessionKey(apiKey: string): Buffer {
  return createHmac('sha256', apiKey).update('inkwire console session').digest();
}

const mac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest('base64url');

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new session's cookie value: `base64url(payload).signature`. */
export function issueSession(key: Buffer, now: number): { value: string; session: Session } {
  const session: Session = { exp: now + SESSION_HOURS * 3_600_000, nonce: randomBytes(18).toString('base64url') };
  const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
  return { value: `${payload}.${mac(key, `session.${payload}`)}`, session };
}

/** The session a cookie value carries and the key that signed it, if one of `keys` did and it has not expired. */
export function readSession(value: string | undefined, keys: readonly Buffer[], now: number): { session: Session; key: Buffer } | undefined {
  if (!value || value.length > 512) return undefined;
  const dot = value.indexOf('.');
  if (dot <= 0) return undefined;
  const payload = value.slice(0, dot);
  const signature = value.slice(dot + 1);
  const key = keys.find((k) => equal(mac(k, `session.${payload}`), signature));
  if (!key) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const s = parsed as Partial<Session>;
  if (typeof s.exp !== 'number' || typeof s.nonce !== 'string' || s.exp <= now) return undefined;
  return { session: { exp: s.exp, nonce: s.nonce }, key };
}

/** The session's CSRF token, put in every form and checked on every POST. */
export function csrfToken(key: Buffer, session: Session): string {
  return mac(key, `csrf.${session.nonce}`);
}

export function csrfValid(key: Buffer, session: Session, token: string | undefined): boolean {
  return typeof token === 'string' && equal(csrfToken(key, session), token);
}

/**
 * Sessions ended by signing out before they expired. The cookie alone would stay valid until it expires;
 * this is what makes a copy of it useless once its owner signed out.
 */
export interface SessionRevocations {
  /** Marks the session ended; the mark may be forgotten after `until` (the session's own expiry). */
  revoke(nonce: string, until: Date): Promise<void>;
  isRevoked(nonce: string): Promise<boolean>;
}
