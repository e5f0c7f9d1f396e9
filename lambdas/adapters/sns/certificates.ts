/**
 * Where SNS signing certificates may come from, and how they are fetched. The fetcher is a port so tests
 * can hand in a certificate they generated; in AWS it is {@link HttpsCertificateFetcher}.
 */

/** Fetches the PEM text of a signing certificate. Only ever called with a URL {@link isSnsCertificateUrl} accepted. */
export interface CertificateFetcher {
  fetch(url: string): Promise<string>;
}

const SNS_HOST = /^sns\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/;

/** The region of an SNS endpoint host (`sns.eu-west-1.amazonaws.com` → `eu-west-1`), or undefined. */
export function snsHostRegion(hostname: string): string | undefined {
  return SNS_HOST.exec(hostname)?.[1];
}

function parseStrict(raw: string): URL | undefined {
  if (typeof raw !== 'string' || raw.length > 1000 || /[\s\\]/.test(raw)) return undefined;
  try {
    const u = new URL(raw);
    // Anything the parser had to normalise (`..`, case, escapes) is not a URL SNS sends.
    return u.href === raw ? u : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True only for `https://sns.<region>.amazonaws.com/<name>.pem`: https, an SNS host (no look-alike such as
 * `sns.us-east-1.amazonaws.com.evil.example`), no user info, no port, no query or fragment, a `.pem` path.
 * When `region` is given the host must be in that region (the one of the message's TopicArn).
 */
export function isSnsCertificateUrl(raw: string, region?: string): boolean {
  const u = snsHttpsUrl(raw, region);
  return u !== undefined && u.search === '' && /^\/[A-Za-z0-9._-]+\.pem$/.test(u.pathname);
}

/** The URL when it is plain https on an SNS host (in `region` when given): no user info, port or fragment. */
function snsHttpsUrl(raw: string, region?: string): URL | undefined {
  const u = parseStrict(raw);
  if (!u) return undefined;
  const hostRegion = snsHostRegion(u.hostname);
  const ok =
    u.protocol === 'https:' &&
    u.username === '' &&
    u.password === '' &&
    u.port === '' &&
    u.hash === '' &&
    hostRegion !== undefined &&
    (region === undefined || hostRegion === region);
  return ok ? u : undefined;
}

/**
 * True only for an SNS `ConfirmSubscription` URL on `https://sns.<region>.amazonaws.com/`, in `region`
 * when given.
 */
export function isSnsSubscribeUrl(raw: string, region?: string): boolean {
  const u = snsHttpsUrl(raw, region);
  return u !== undefined && u.pathname === '/' && u.searchParams.get('Action') === 'ConfirmSubscription';
}

const MAX_PEM_BYTES = 16 * 1024;

/** Fetches certificates over https from SNS hosts only: no redirects, a timeout, a size cap. */
export class HttpsCertificateFetcher implements CertificateFetcher {
  constructor(private readonly options: { timeoutMs?: number; fetch?: typeof fetch } = {}) {}

  async fetch(url: string): Promise<string> {
    if (!isSnsCertificateUrl(url)) throw new Error(`refusing to fetch a certificate from ${url}`);
    const res = await (this.options.fetch ?? fetch)(url, { redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
    if (res.status !== 200) throw new Error(`certificate fetch answered ${res.status}`);
    const text = await res.text();
    if (text.length > MAX_PEM_BYTES || !text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not a PEM certificate');
    return text;
  }
}

/** Confirms an SNS subscription by fetching its SubscribeURL. */
export interface SubscriptionConfirmer {
  confirm(subscribeUrl: string): Promise<void>;
}

/** Fetches the SubscribeURL over https, SNS hosts only, no redirects. */
export class HttpsSubscriptionConfirmer implements SubscriptionConfirmer {
  constructor(private readonly options: { timeoutMs?: number; fetch?: typeof fetch } = {}) {}

  async confirm(subscribeUrl: string): Promise<void> {
    if (!isSnsSubscribeUrl(subscribeUrl)) throw new Error(`refusing to fetch ${subscribeUrl}`);
    const res = await (this.options.fetch ?? fetch)(subscribeUrl, { redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`SNS answered ${res.status} to the subscription confirmation`);
  }
}
