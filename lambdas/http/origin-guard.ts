import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../core/errors.ts';

/**
 * The header CloudFront adds to every request it sends to the API (a custom origin header, whose value
 * is the origin secret). CloudFront replaces a viewer's header of the same name, so only CloudFront can
 * send the right value.
 */
export const ORIGIN_HEADER = 'x-inkwire-origin-verify';

/** The context variable set on a request that carried the origin secret (it came through CloudFront). */
export const ORIGIN_VERIFIED = 'originVerified';

export interface OriginGuardOptions {
  /**
   * The values accepted now: the current secret, and during a rotation the previous one too (CloudFront
   * keeps sending the old value until its distribution is updated). Read once, then again on a request
   * whose value matches none of them, at most once per `refreshAfterMs`.
   */
  load: () => Promise<string[]>;
  /** Default one minute. */
  refreshAfterMs?: number;
  /** Where requests must go instead (the site's CloudFront address), named in the 403. */
  publicUrl?: string | undefined;
  now?: () => number;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Constant-time, whatever the lengths: both sides are hashed to 32 bytes first. */
const sameSecret = (given: Buffer, expected: string) => timingSafeEqual(given, digest(expected));

/**
 * Refuses, with 403 `origin.forbidden`, every request that does not carry the origin secret in
 * {@link ORIGIN_HEADER}: in AWS, one sent to the API's own execute-api endpoint instead of through
 * CloudFront, which would bypass CloudFront and let the caller choose the client address that rate
 * limits count. `/health` included: the endpoint answers nothing else (health checks go through
 * CloudFront). Marks a request that passed with {@link ORIGIN_VERIFIED}.
 */
export function originGuard(options: OriginGuardOptions): MiddlewareHandler {
  const refreshAfterMs = options.refreshAfterMs ?? 60_000;
  const now = options.now ?? Date.now;
  const where = options.publicUrl ? ` send it to ${options.publicUrl}` : ' send it through the site\u2019s CloudFront address';
  let accepted: Promise<string[]> | undefined;
  let loadedAt = Number.NEGATIVE_INFINITY;
  const load = () => {
    loadedAt = now();
    const p = options.load().then((values) => values.filter((v) => v.length > 0));
    p.catch(() => {
      if (accepted === p) accepted = undefined;
    });
    accepted = p;
    return p;
  };
  const matches = async (given: Buffer, values: Promise<string[]>) => (await values).some((v) => sameSecret(given, v));

  return async (c, next) => {
    const value = c.req.header(ORIGIN_HEADER);
    if (value === undefined || value === '') {
      throw new AppError(
        'origin.forbidden',
        `this is the API's own endpoint, which answers only requests from the site's CloudFront distribution (expected the ${ORIGIN_HEADER} header CloudFront adds; the request had none):${where}`,
      );
    }
    const given = digest(value);
    let ok = await matches(given, accepted ?? load());
    if (!ok && now() - loadedAt >= refreshAfterMs) ok = await matches(given, load());
    if (!ok) {
      throw new AppError(
        'origin.forbidden',
        `this is the API's own endpoint, which answers only requests from the site's CloudFront distribution (expected the ${ORIGIN_HEADER} value CloudFront sends; the request had another):${where}`,
      );
    }
    c.set(ORIGIN_VERIFIED, true);
    await next();
  };
}
