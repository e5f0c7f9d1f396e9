import { Resolver } from 'node:dns/promises';
import type { SendQuota } from '../../core/email/message.ts';

/** One DNS record the deployment needs, and what the resolver found. */
export interface DnsCheck {
  purpose: 'SPF' | 'DKIM' | 'DMARC' | 'MAIL FROM';
  name: string;
  type: 'TXT' | 'MX' | 'CNAME';
  expected: string;
  found: string[];
  /** Undefined when it could not be checked (say why in `note`). */
  ok?: boolean | undefined;
  note?: string | undefined;
}

export interface ConsoleSettings {
  site: { label: string; value: string }[];
  mail: { label: string; value: string }[];
  quota?: SendQuota | undefined;
  quotaError?: string | undefined;
  dns: DnsCheck[];
}

/** What DNS must say for SES to send as the domain with SPF, DKIM and DMARC aligned (see the README's SES section). */
export interface DnsExpectations {
  /** The domain of MAIL_FROM. */
  domain: string;
  /** The custom MAIL FROM domain (the deployment uses `mail.<domain>`). */
  mailFromDomain: string;
  /** The SES region, for the MAIL FROM MX record. */
  region?: string | undefined;
  /** Easy DKIM tokens, when known (SES issues them; the data stack outputs the CNAMEs). */
  dkimTokens?: string[] | undefined;
}

export type DnsLookup = (name: string, type: 'TXT' | 'MX' | 'CNAME') => Promise<string[]>;

/** Lookups through the system's resolvers, each given up after `timeoutMs`. */
export function systemDnsLookup(timeoutMs = 2000): DnsLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  return async (name, type) => {
    if (type === 'TXT') return (await resolver.resolveTxt(name)).map((parts) => parts.join(''));
    if (type === 'MX') return (await resolver.resolveMx(name)).map((mx) => `${mx.priority} ${mx.exchange}`);
    return resolver.resolveCname(name);
  };
}

const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

/** Checks each record the deployment needs; a record that cannot be looked up is reported as not checked. */
export async function checkDns(expect: DnsExpectations, lookup: DnsLookup): Promise<DnsCheck[]> {
  const checks: { purpose: DnsCheck['purpose']; name: string; type: DnsCheck['type']; expected: string; match: (v: string) => boolean }[] = [
    {
      purpose: 'SPF',
      name: expect.mailFromDomain,
      type: 'TXT',
      expected: 'v=spf1 include:amazonses.com ~all',
      match: (v) => /^v=spf1\b/i.test(v) && /include:amazonses\.com\b/i.test(v),
    },
    {
      purpose: 'MAIL FROM',
      name: expect.mailFromDomain,
      type: 'MX',
      expected: `10 feedback-smtp.${expect.region ?? '<region>'}.amazonses.com`,
      match: (v) =>
        expect.region ? v.toLowerCase().endsWith(`feedback-smtp.${expect.region}.amazonses.com`) : /feedback-smtp\.[a-z0-9-]+\.amazonses\.com$/i.test(v),
    },
    { purpose: 'DMARC', name: `_dmarc.${expect.domain}`, type: 'TXT', expected: 'v=DMARC1; p=none; (or stricter)', match: (v) => /^v=DMARC1\s*;/i.test(v) },
    ...(expect.dkimTokens ?? []).map((t) => ({
      purpose: 'DKIM' as const,
      name: `${t}._domainkey.${expect.domain}`,
      type: 'CNAME' as const,
      expected: `${t}.dkim.amazonses.com`,
      match: (v: string) => v.toLowerCase() === `${t}.dkim.amazonses.com`,
    })),
  ];
  const out = await Promise.all(
    checks.map(async (c): Promise<DnsCheck> => {
      const base = { purpose: c.purpose, name: c.name, type: c.type, expected: c.expected };
      try {
        const found = await lookup(c.name, c.type);
        return { ...base, found, ok: found.some(c.match) };
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (NO_RECORD.has(code)) return { ...base, found: [], ok: false, note: 'no such record' };
        return { ...base, found: [], note: `could not be checked from here (${code || (e instanceof Error ? e.message : 'lookup failed')})` };
      }
    }),
  );
  if (!expect.dkimTokens?.length) {
    out.push({
      purpose: 'DKIM',
      name: `<token>._domainkey.${expect.domain}`,
      type: 'CNAME',
      expected: '<token>.dkim.amazonses.com (three records)',
      found: [],
      note: 'the tokens come from SES: see the data stack\u2019s DkimRecord outputs',
    });
  }
  return out;
}
