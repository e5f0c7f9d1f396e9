import { z } from 'zod';
import { DEFAULT_SUBSCRIBER_FREQUENCY, sitePagesOn } from '../lambdas/config.ts';

/**
 * Deployment configuration, read from CDK context and validated here, so a missing or malformed value
 * stops `cdk synth` with a message that says what to set and how, instead of surfacing as a broken
 * resource after a deploy.
 *
 * A deployment's settings are recorded in the `context` object of cdk.json, which every `cdk` command
 * reads, so that no redeploy can forget one: a `-c key=value` on the command line that is not recorded
 * there, or disagrees with it, is refused ({@link checkRecordedContext}), except with `-c example=true`.
 */

/** An example value of each key, shown in every error message. Kept next to the schema so the two never drift. */
const EXAMPLE_VALUES = {
  domain: 'news.example.com',
  senderAddress: 'newsletter@news.example.com',
  senderName: 'Example News',
  siteUrl: 'https://www.example.com',
  sitePages: 'on',
  siteLogoUrl: 'https://news.example.com/logo.png',
  siteAccentColor: '#1a56db',
  siteFooterText: 'Example News is published by Example Media.',
  siteTitle: 'Example News',
  siteDescription: 'Notes on examples',
  language: 'en-US',
  postalAddress: 'Example Media, 1 Main St, Springfield, USA',
  sesMaxSendRate: 14,
  dailyCron: 'cron(0 8 * * ? *)',
  weeklyCron: 'cron(0 8 ? * MON *)',
  timezone: 'Europe/Berlin',
  alarmEmail: 'ops@example.com',
  websubHub: 'https://pubsubhubbub.appspot.com/',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/...',
  feedItemLimit: 50,
  defaultFrequency: 'instant',
  account: '123456789012',
  region: 'eu-west-1',
  monthlyBudgetUsd: 50,
  wafRateLimit: 300,
} as const;

export type ConfigKey = keyof typeof EXAMPLE_VALUES;
export const CONFIG_KEYS = Object.keys(EXAMPLE_VALUES) as ConfigKey[];

/** A key and value as written in cdk.json's `context` object: `"sesMaxSendRate": 14`. */
const entry = (key: string, value: unknown) => `"${key}": ${JSON.stringify(value)}`;

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
/** EventBridge Scheduler cron: six fields (minutes hours day-of-month month day-of-week year). */
const SCHEDULER_CRON = /^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/;
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const ACM_CERT_US_EAST_1 = /^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate\/[A-Za-z0-9-]+$/;

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).transform((u) => u.replace(/\/+$/, ''));

const fields = z.object({
  domain: z
    .string()
    .transform((d) => d.trim().toLowerCase())
    .refine((d) => HOSTNAME.test(d), 'must be a host name without scheme or path, such as news.example.com'),
  senderAddress: z.email('must be an email address').optional(),
  senderName: z.string().min(1).max(100).optional(),
  siteUrl: httpsUrl.optional(),
  sitePages: z.enum(['on', 'off'], 'must be on or off').optional(),
  siteLogoUrl: httpsUrl.optional(),
  siteAccentColor: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a hex colour such as #1a56db')
    .optional(),
  siteFooterText: z.string().min(1).max(300).optional(),
  siteTitle: z.string().min(1).max(200).optional(),
  siteDescription: z.string().max(1000).optional(),
  language: z.string().regex(LANGUAGE_TAG, 'must be a BCP 47 language tag such as en or en-US').default('en'),
  postalAddress: z
    .string('is required: commercial email must carry the sender\u2019s physical postal address (CAN-SPAM)')
    .min(10, 'must be a full postal address (it is printed in every email footer)'),
  sesMaxSendRate: z.coerce.number('must be a number').positive('must be greater than 0').max(10_000, 'must be at most 10000 messages per second').default(1),
  dailyCron: z
    .string()
    .regex(SCHEDULER_CRON, 'must be an EventBridge Scheduler cron expression with six fields, such as cron(0 8 * * ? *)')
    .default('cron(0 8 * * ? *)'),
  weeklyCron: z
    .string()
    .regex(SCHEDULER_CRON, 'must be an EventBridge Scheduler cron expression with six fields, such as cron(0 8 ? * MON *)')
    .default('cron(0 8 ? * MON *)'),
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone name such as UTC or Europe/Berlin').default('UTC'),
  alarmEmail: z.email('must be an email address').optional(),
  websubHub: httpsUrl.optional(),
  certificateArn: z
    .string()
    .regex(ACM_CERT_US_EAST_1, 'must be the ARN of an ACM certificate in us-east-1 (CloudFront only uses certificates from us-east-1)')
    .optional(),
  feedItemLimit: z.coerce.number('must be a number').int('must be a whole number').min(1).max(500).default(50),
  defaultFrequency: z.enum(['instant', 'daily', 'weekly'], 'must be one of instant, daily, weekly').default(DEFAULT_SUBSCRIBER_FREQUENCY),
  account: z
    .string()
    .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region name such as eu-west-1')
    .optional(),
  monthlyBudgetUsd: z.coerce
    .number('must be a number of US dollars')
    .positive('must be greater than 0 US dollars')
    .max(1_000_000, 'must be at most 1000000 US dollars a month')
    .default(50),
  wafRateLimit: z.coerce
    .number('must be a number')
    .int('must be a whole number of requests per 5 minutes')
    .min(10, 'must be at least 10 requests per 5 minutes (the smallest limit of an AWS WAF rate-based rule)')
    .max(2_000_000_000, 'must be at most 2000000000 requests per 5 minutes')
    .optional(),
});

/** CloudFront only uses web ACLs of scope CLOUDFRONT, and those can only be created in us-east-1. */
export const WAF_REGION = 'us-east-1';

const schema = fields.superRefine((c, ctx) => {
  if (c.wafRateLimit !== undefined && c.region !== undefined && c.region !== WAF_REGION) {
    ctx.addIssue({
      code: 'custom',
      path: ['wafRateLimit'],
      input: c.wafRateLimit,
      message: `needs the stacks in ${WAF_REGION}, where CloudFront's web ACLs must be created, but \`region\` is ${c.region}: deploy to ${WAF_REGION}, or leave wafRateLimit unset (the app's own subscribe limits still apply)`,
    });
  }
  if (c.senderAddress) {
    const at = c.senderAddress.lastIndexOf('@');
    if (c.senderAddress.slice(at + 1).toLowerCase() !== c.domain) {
      ctx.addIssue({
        code: 'custom',
        path: ['senderAddress'],
        input: c.senderAddress,
        message: `must be an address at ${c.domain}, the domain that SES verifies and signs for (DKIM/SPF alignment)`,
      });
    }
  }
});

type Parsed = z.output<typeof schema>;

/** The validated configuration, with every default and derived value filled in. */
export interface InkwireConfig {
  /** Host name that serves feeds, pages and the API through CloudFront, e.g. `news.example.com`. */
  domain: string;
  /** `https://<domain>` */
  publicUrl: string;
  /** The publisher's own website (article links point here); defaults to `publicUrl`. */
  siteUrl: string;
  /**
   * Whether Inkwire writes the public site's pages (`sitePages`: on or off). Default: on when `siteUrl` is
   * `publicUrl` (Inkwire is the site), off when the publisher has a website of their own.
   */
  sitePages: boolean;
  /** The pages' (and feeds') logo, accent colour and footer line; unset: the defaults of the local runtime. */
  siteLogoUrl?: string | undefined;
  siteAccentColor?: string | undefined;
  siteFooterText?: string | undefined;
  siteTitle: string;
  siteDescription: string;
  language: string;
  senderAddress: string;
  senderName: string;
  /** Custom MAIL FROM domain: `mail.<domain>`. */
  mailFromDomain: string;
  postalAddress: string;
  sesMaxSendRate: number;
  dailyCron: string;
  weeklyCron: string;
  timezone: string;
  alarmEmail?: string | undefined;
  websubHub?: string | undefined;
  certificateArn?: string | undefined;
  feedItemLimit: number;
  defaultFrequency: 'instant' | 'daily' | 'weekly';
  account?: string | undefined;
  region?: string | undefined;
  /** The account's monthly AWS Budgets cost budget in US dollars: 80% actual, 100% actual and 100% forecast notify the alarm topic. */
  monthlyBudgetUsd: number;
  /**
   * AWS WAF on the distribution: at most this many requests per 5 minutes from one IP address to paths
   * starting with `/subscribe` (off when unset). Needs the stacks in us-east-1.
   */
  wafRateLimit?: number | undefined;
  /** True when synthesized from {@link EXAMPLE_CONTEXT}; such a template refuses to deploy. */
  example: boolean;
}

/**
 * The documented example configuration, selected with `-c example=true`. It lets `cdk synth` and the
 * infrastructure tests run in CI without a real domain; the stacks it produces carry a CloudFormation
 * rule that fails any deployment of them.
 */
export const EXAMPLE_CONTEXT: Readonly<Record<string, string>> = {
  domain: 'news.example.com',
  siteTitle: 'Example News',
  siteDescription: 'An example Inkwire publication',
  postalAddress: 'Example Media, 1 Example Street, Springfield 00000, USA',
  alarmEmail: 'ops@example.com',
};

/** `-c example=true` (or `true` in a test's context) selects the example configuration. */
const isExample = (raw: Readonly<Record<string, unknown>>) => raw.example === true || raw.example === 'true';

const EXAMPLE_HINT = 'To synthesize the documented example configuration instead, pass -c example=true.';

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    {
      heading = 'Invalid Inkwire configuration (CDK context):',
      hint = `Record each value in the "context" object of cdk.json, which every cdk command reads. ${EXAMPLE_HINT}`,
    } = {},
  ) {
    super(`${heading}\n${problems.map((p) => `  - ${p}`).join('\n')}\n${hint}`);
    this.name = 'ConfigError';
  }
}

function describe(key: string, message: string, value: unknown): string {
  const example = entry(key, (EXAMPLE_VALUES as Record<string, unknown>)[key]);
  if (value === undefined) {
    const why = message.startsWith('is required') ? message : 'is required';
    return `context \`${key}\` ${why}: record it in cdk.json's "context" object, like ${example}`;
  }
  return `context \`${key}\` ${message} (got ${JSON.stringify(value)}): set it in cdk.json's "context" object like ${example}`;
}

/**
 * Validates raw context values (strings from `-c`, or any JSON value from cdk.json). Empty strings count
 * as unset, so `-c alarmEmail=` turns the option off.
 *
 * @example
 * parseConfig({ domain: 'news.example.com', postalAddress: '1 Main St, Springfield, USA' }).publicUrl
 * // 'https://news.example.com'
 */
export function parseConfig(raw: Readonly<Record<string, unknown>>): InkwireConfig {
  const example = isExample(raw);
  const source: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = raw[key] ?? (example ? EXAMPLE_CONTEXT[key] : undefined);
    source[key] = typeof value === 'string' && value.trim() === '' ? undefined : value;
  }

  const result = schema.safeParse(source);
  if (!result.success) {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(describe(key, issue.message, source[key]));
    }
    throw new ConfigError(problems);
  }
  return complete(result.data, example);
}

function complete(c: Parsed, example: boolean): InkwireConfig {
  const publicUrl = `https://${c.domain}`;
  const siteTitle = c.siteTitle ?? c.domain;
  return {
    domain: c.domain,
    publicUrl,
    siteUrl: c.siteUrl ?? publicUrl,
    sitePages: sitePagesOn(c.sitePages, c.siteUrl ?? publicUrl, publicUrl),
    siteLogoUrl: c.siteLogoUrl,
    siteAccentColor: c.siteAccentColor,
    siteFooterText: c.siteFooterText,
    siteTitle,
    siteDescription: c.siteDescription ?? `Updates from ${siteTitle}`,
    language: c.language,
    senderAddress: c.senderAddress ?? `newsletter@${c.domain}`,
    senderName: c.senderName ?? siteTitle,
    mailFromDomain: `mail.${c.domain}`,
    postalAddress: c.postalAddress,
    sesMaxSendRate: c.sesMaxSendRate,
    dailyCron: c.dailyCron,
    weeklyCron: c.weeklyCron,
    timezone: c.timezone,
    alarmEmail: c.alarmEmail,
    websubHub: c.websubHub,
    certificateArn: c.certificateArn,
    feedItemLimit: c.feedItemLimit,
    defaultFrequency: c.defaultFrequency,
    account: c.account,
    region: c.region,
    monthlyBudgetUsd: c.monthlyBudgetUsd,
    wafRateLimit: c.wafRateLimit,
    example,
  };
}

/**
 * A value as the configuration means it, so that `"14"` from -c equals `14` in cdk.json and
 * `News.Example.com` equals `news.example.com`; unset (undefined) for nothing or an empty string.
 */
function meaning(key: ConfigKey, value: unknown): unknown {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
  const parsed = fields.shape[key].safeParse(value);
  return parsed.success ? parsed.data : typeof value === 'string' ? value.trim() : value;
}
const sameMeaning = (key: ConfigKey, a: unknown, b: unknown) => JSON.stringify(meaning(key, a)) === JSON.stringify(meaning(key, b));

/** A value in a message: bare when that is unambiguous (`14`, `news.example.com`), else as JSON. */
const show = (value: unknown) => (typeof value === 'string' && /^[^\s"]+$/.test(value) ? value : JSON.stringify(value));

/**
 * Refuses configuration that is not recorded in cdk.json, so that every deploy uses the same settings
 * (a redeploy that forgot `-c sesMaxSendRate=14` would otherwise drop to 1/s, one that forgot
 * `certificateArn` would remove the domain). For each configuration key, a value the app was given
 * (`given`: the CLI merges `-c key=value` over cdk.json's context) must mean what cdk.json's own
 * `context` object (`recorded`) says; a value cdk.json does not record at all is refused too. (The CLI
 * also merges cdk.context.json and ~/.cdk.json under cdk.json; a configuration key from either counts as
 * not recorded.) With `-c example=true` (tests and CI synthesis) anything goes. Pure: the caller reads
 * cdk.json.
 *
 * @throws {ConfigError} naming each key given on the command line that cdk.json does not record as given.
 */
export function checkRecordedContext(given: Readonly<Record<string, unknown>>, recorded: Readonly<Record<string, unknown>>): void {
  if (isExample(given)) return;
  const problems: string[] = [];
  for (const key of CONFIG_KEYS) {
    // Not given at all, or given as cdk.json records it (an empty -c value and no record both mean unset).
    if (given[key] === undefined || sameMeaning(key, given[key], recorded[key])) continue;
    if (recorded[key] === undefined) {
      problems.push(
        `${key} is ${show(given[key])} on the command line but not recorded in cdk.json: record it in cdk.json's context (${entry(key, meaning(key, given[key]))}) so every deploy uses it`,
      );
    } else {
      problems.push(
        `${key} is ${show(given[key])} on the command line but ${show(recorded[key])} in cdk.json: record it in cdk.json's context so every deploy uses it`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(problems, {
      heading: 'Inkwire configuration given on the command line differs from what cdk.json records:',
      hint: `Every deploy reads the "context" object of cdk.json: change the value there (and keep the file with the deployment) instead of passing it with -c. ${EXAMPLE_HINT}`,
    });
  }
}

/** Reads every configuration key (and `example`) from a construct's context. */
export function readContext(tryGetContext: (key: string) => unknown): Record<string, unknown> {
  const raw: Record<string, unknown> = { example: tryGetContext('example') };
  for (const key of CONFIG_KEYS) raw[key] = tryGetContext(key);
  return raw;
}
