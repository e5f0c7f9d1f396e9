import { isIP } from 'node:net';
import type { Context } from 'hono';
import { ORIGIN_VERIFIED } from './origin-guard.ts';

/** Reads the address of the connection's peer (the runtime's own API: node-server, Lambda's sourceIp). */
export type SocketAddressResolver = (c: Context) => string | undefined;

/**
 * The viewer's address as CloudFront's own request header gives it: `ip:port`, the port after the last
 * colon (`203.0.113.7:46532`, `2001:db8::1:443`).
 */
export const CLOUDFRONT_VIEWER_ADDRESS = 'cloudfront-viewer-address';

/**
 * The viewer's IP address, written on every API request by the distribution's viewer-request function
 * (infra/constructs/edge.ts) from `event.viewer.ip`: CloudFront sets it after the viewer's own headers, so
 * a viewer cannot choose its value.
 */
export const VIEWER_ADDRESS_HEADER = 'x-inkwire-viewer-address';

/**
 * The IP address in a `CloudFront-Viewer-Address` value (`ip:port`; for IPv6 the port follows the last
 * colon), or undefined when the value is not of that form.
 *
 * @example
 * parseViewerAddress('198.51.100.10:46532') // '198.51.100.10'
 * parseViewerAddress('2001:db8::1:443')     // '2001:db8::1'
 */
export function parseViewerAddress(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const text = value.trim();
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || !/^\d{1,5}$/.test(text.slice(colon + 1))) return undefined;
  const ip = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return isIP(ip) ? ip : undefined;
}

export interface ClientAddressOptions {
  /**
   * How many proxies in front of the app append to `X-Forwarded-For` and are trusted (0: none, use the
   * socket). With N, the client is the N-th address from the right: the one the outermost trusted proxy
   * saw. Entries left of it were written by the client and are never trusted. For a proxy of your own in
   * front of `npm start`; the AWS deployment needs none (it uses CloudFront's headers, below).
   */
  trustedProxyHops: number;
  socket: SocketAddressResolver;
}

/**
 * Builds `clientAddress(c)`: the address rate limits count by.
 *
 * 1. A request that passed the origin check (it came through the site's CloudFront distribution, see
 *    `originGuard`): the viewer address CloudFront wrote, from {@link VIEWER_ADDRESS_HEADER}, else from
 *    `CloudFront-Viewer-Address`. Without that check these headers are ignored: anyone can send them.
 * 2. With `trustedProxyHops` N > 0, the N-th `X-Forwarded-For` entry from the right.
 * 3. The socket's peer address; `unknown` when the runtime cannot tell (`app.request` in tests).
 *
 * @example
 * ```ts
 * import { getConnInfo } from '@hono/node-server/conninfo';
 * const clientAddress = clientAddressResolver({ trustedProxyHops: 0, socket: (c) => getConnInfo(c).remote.address });
 * ```
 */
export function clientAddressResolver(options: ClientAddressOptions): (c: Context) => string {
  const hops = Math.max(0, Math.floor(options.trustedProxyHops));
  return (c) => {
    if (c.get(ORIGIN_VERIFIED) === true) {
      const written = c.req.header(VIEWER_ADDRESS_HEADER)?.trim();
      if (written && isIP(written)) return written;
      const viewer = parseViewerAddress(c.req.header(CLOUDFRONT_VIEWER_ADDRESS));
      if (viewer) return viewer;
    }
    if (hops > 0) {
      const chain = (c.req.header('x-forwarded-for') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const candidate = chain[chain.length - hops];
      if (candidate && /^[0-9A-Fa-f:.]{2,45}$/.test(candidate)) return candidate;
    }
    let socket: string | undefined;
    try {
      socket = options.socket(c);
    } catch {
      socket = undefined;
    }
    return socket || 'unknown';
  };
}
