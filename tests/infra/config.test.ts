import { describe, expect, it } from 'vitest';
import { checkRecordedContext, CONFIG_KEYS, ConfigError, EXAMPLE_CONTEXT, parseConfig, readContext } from '../../infra/config.ts';
import { DEFAULT_SUBSCRIBER_FREQUENCY, MailEnvSchema } from '../../lambdas/config.ts';

const MINIMAL = { domain: 'news.example.com', postalAddress: 'Example Media, 1 Main St, Springfield, USA' };

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('infra configuration', () => {
  it('says which context keys are missing and how to record them in cdk.json', () => {
    const problems = problemsOf({});
    expect(problems).toEqual([
      'context `domain` is required: record it in cdk.json\'s "context" object, like "domain": "news.example.com"',
      expect.stringMatching(/^context `postalAddress` is required: .*CAN-SPAM.*: record it in cdk\.json's "context" object, like "postalAddress": "/),
    ]);
  });

  it('mentions cdk.json and the example configuration in the error message', () => {
    expect(() => parseConfig({})).toThrow(/"context" object of cdk\.json.*-c example=true/s);
  });

  it('explains each malformed value, quoting what was given', () => {
    const problems = problemsOf({
      ...MINIMAL,
      domain: 'https://news.example.com/',
      timezone: 'Mars/Olympus',
      dailyCron: '0 8 * * *',
      sesMaxSendRate: 'fast',
      alarmEmail: 'ops-at-example.com',
      certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
    });
    expect(problems).toEqual([
      'context `domain` must be a host name without scheme or path, such as news.example.com (got "https://news.example.com/"): set it in cdk.json\'s "context" object like "domain": "news.example.com"',
      expect.stringMatching(/^context `sesMaxSendRate` must be a number \(got "fast"\)/),
      expect.stringMatching(/^context `dailyCron` must be an EventBridge Scheduler cron expression with six fields/),
      expect.stringMatching(/^context `timezone` must be an IANA time zone name .*\(got "Mars\/Olympus"\)/),
      expect.stringMatching(/^context `alarmEmail` must be an email address/),
      expect.stringMatching(/^context `certificateArn` must be the ARN of an ACM certificate in us-east-1/),
    ]);
  });

  it('refuses a sender address outside the verified domain (DKIM/SPF alignment)', () => {
    expect(problemsOf({ ...MINIMAL, senderAddress: 'news@gmail.com' })).toEqual([
      expect.stringMatching(/^context `senderAddress` must be an address at news\.example\.com.*\(got "news@gmail\.com"\)/),
    ]);
  });

  it('fills in safe defaults and derived values', () => {
    const c = parseConfig({ ...MINIMAL, alarmEmail: '' });
    expect(c).toMatchObject({
      domain: 'news.example.com',
      publicUrl: 'https://news.example.com',
      siteUrl: 'https://news.example.com',
      siteTitle: 'news.example.com',
      senderAddress: 'newsletter@news.example.com',
      mailFromDomain: 'mail.news.example.com',
      language: 'en',
      sesMaxSendRate: 1,
      dailyCron: 'cron(0 8 * * ? *)',
      weeklyCron: 'cron(0 8 ? * MON *)',
      timezone: 'UTC',
      feedItemLimit: 50,
      // The same default as the local runtime's DEFAULT_FREQUENCY.
      defaultFrequency: DEFAULT_SUBSCRIBER_FREQUENCY,
      example: false,
    });
    expect(c.alarmEmail).toBeUndefined();
  });

  it('accepts strings from -c and typed values from cdk.json alike', () => {
    expect(parseConfig({ ...MINIMAL, sesMaxSendRate: '14', feedItemLimit: '20' })).toMatchObject({ sesMaxSendRate: 14, feedItemLimit: 20 });
    expect(parseConfig({ ...MINIMAL, sesMaxSendRate: 14, feedItemLimit: 20 })).toMatchObject({ sesMaxSendRate: 14, feedItemLimit: 20 });
    expect(parseConfig({ ...MINIMAL, domain: 'News.Example.COM', siteUrl: 'https://blog.example.com/' })).toMatchObject({
      domain: 'news.example.com',
      siteUrl: 'https://blog.example.com',
    });
  });

  it('uses the documented example only when asked, and lets explicit values override it', () => {
    expect(parseConfig({ example: 'true' })).toMatchObject({ ...EXAMPLE_CONTEXT, example: true });
    expect(parseConfig({ example: true, domain: 'other.example.net' })).toMatchObject({ domain: 'other.example.net', example: true });
    expect(() => parseConfig({ example: 'false' })).toThrow(ConfigError);
  });

  it('reads every key from a construct context', () => {
    const context: Record<string, unknown> = { domain: 'a.example.com', timezone: 'UTC', unrelated: 'x' };
    const raw = readContext((key) => context[key]);
    expect(raw).toMatchObject({ domain: 'a.example.com', timezone: 'UTC' });
    expect(raw).not.toHaveProperty('unrelated');
  });
});

/** The problems `checkRecordedContext` names, or none. */
function refusals(given: Record<string, unknown>, recorded: Record<string, unknown>): string[] {
  try {
    checkRecordedContext(given, recorded);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

/** What cdk.json records for a deployment (its `context` object), typed as JSON. */
const RECORDED = { ...MINIMAL, sesMaxSendRate: 1, certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc-123', alarmEmail: 'ops@example.com' };
/** What the app receives when cdk runs without -c: cdk.json's context as it is. */
const merged = (commandLine: Record<string, string>) => ({ ...RECORDED, ...commandLine });

describe('settings recorded in cdk.json', () => {
  it('accepts a deploy that passes nothing on the command line, or only what cdk.json records', () => {
    expect(refusals(merged({}), RECORDED)).toEqual([]);
    // -c values are strings; cdk.json's are JSON. The same meaning is the same value.
    expect(refusals(merged({ sesMaxSendRate: '1', domain: 'News.Example.com', alarmEmail: 'ops@example.com' }), RECORDED)).toEqual([]);
    // Context keys that are not configuration (feature flags, CDK's own) are none of its business.
    expect(refusals({ ...merged({}), '@aws-cdk/core:defaultCrossStackReferences': 'strong', unrelated: 'x' }, RECORDED)).toEqual([]);
  });

  it('refuses a value on the command line that differs from cdk.json, saying both and what to do', () => {
    expect(refusals(merged({ sesMaxSendRate: '14' }), RECORDED)).toEqual([
      "sesMaxSendRate is 14 on the command line but 1 in cdk.json: record it in cdk.json's context so every deploy uses it",
    ]);
    // Turning a recorded option off with an empty -c value is a difference too.
    expect(refusals(merged({ alarmEmail: '' }), RECORDED)).toEqual([
      'alarmEmail is "" on the command line but ops@example.com in cdk.json: record it in cdk.json\'s context so every deploy uses it',
    ]);
  });

  it('refuses a key given on the command line that cdk.json does not record at all', () => {
    expect(refusals(merged({ timezone: 'Europe/Berlin', siteTitle: 'Example News' }), RECORDED)).toEqual([
      'siteTitle is "Example News" on the command line but not recorded in cdk.json: record it in cdk.json\'s context ("siteTitle": "Example News") so every deploy uses it',
      'timezone is Europe/Berlin on the command line but not recorded in cdk.json: record it in cdk.json\'s context ("timezone": "Europe/Berlin") so every deploy uses it',
    ]);
    // The suggested entry has the value's JSON type.
    expect(refusals({ ...MINIMAL, sesMaxSendRate: '14' }, MINIMAL)).toEqual([
      'sesMaxSendRate is 14 on the command line but not recorded in cdk.json: record it in cdk.json\'s context ("sesMaxSendRate": 14) so every deploy uses it',
    ]);
    // Only configuration a deploy depends on is recorded: nothing at all in cdk.json means every -c is refused.
    expect(refusals({ domain: 'news.example.com', postalAddress: MINIMAL.postalAddress }, {})).toHaveLength(2);
    // An empty -c value for a key cdk.json does not record means what no record means: unset.
    expect(refusals(merged({ websubHub: '' }), RECORDED)).toEqual([]);
  });

  it('names every offending key at once, in a ConfigError that points at cdk.json and the example configuration', () => {
    let error: unknown;
    try {
      checkRecordedContext(merged({ sesMaxSendRate: '14', certificateArn: '', region: 'eu-west-1' }), RECORDED);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['sesMaxSendRate', 'certificateArn', 'region']);
    expect(message).toMatch(/differs from what cdk\.json records/);
    expect(message).toMatch(/"context" object of cdk\.json.*-c example=true/s);
    for (const p of problems) expect(message).toContain(p);
  });

  it('lets the example configuration (tests, CI synthesis) take anything from the command line', () => {
    expect(refusals({ example: 'true', domain: 'other.example.net', sesMaxSendRate: '500' }, {})).toEqual([]);
    expect(refusals({ example: true, ...merged({ sesMaxSendRate: '14' }) }, RECORDED)).toEqual([]);
    expect(refusals({ example: 'false', sesMaxSendRate: '14' }, {})).toHaveLength(1);
  });

  it('covers every configuration key', () => {
    const given = Object.fromEntries(CONFIG_KEYS.map((k) => [k, 'x']));
    expect(refusals(given, {})).toHaveLength(CONFIG_KEYS.length);
  });
});

describe('the frequency of a subscriber who chose none', () => {
  it('is the same in the stacks and in the local runtime', () => {
    const local = MailEnvSchema.parse({ MAIL_FROM: 'news@example.com', POSTAL_ADDRESS: '1 Main St' }).DEFAULT_FREQUENCY;
    expect(local).toBe(DEFAULT_SUBSCRIBER_FREQUENCY);
    expect(parseConfig(MINIMAL).defaultFrequency).toBe(local);
  });
});

describe('the site\u2019s pages (sitePages)', () => {
  it('are on where Inkwire is the site, off where the publisher has a website of their own, unless set', () => {
    expect(parseConfig(MINIMAL).sitePages).toBe(true);
    expect(parseConfig({ ...MINIMAL, siteUrl: `https://${MINIMAL.domain}` }).sitePages).toBe(true);
    expect(parseConfig({ ...MINIMAL, siteUrl: 'https://www.example.org' }).sitePages).toBe(false);
    expect(parseConfig({ ...MINIMAL, siteUrl: 'https://www.example.org', sitePages: 'on' }).sitePages).toBe(true);
    expect(parseConfig({ ...MINIMAL, sitePages: 'off' }).sitePages).toBe(false);
    expect(() => parseConfig({ ...MINIMAL, sitePages: 'yes' })).toThrow(/sitePages` must be on or off/);
  });

  it('take their look from the configuration, checked', () => {
    expect(
      parseConfig({ ...MINIMAL, siteAccentColor: '#aa3300', siteFooterText: 'By Example Media', siteLogoUrl: 'https://news.example.com/logo.png' }),
    ).toMatchObject({
      siteAccentColor: '#aa3300',
      siteFooterText: 'By Example Media',
      siteLogoUrl: 'https://news.example.com/logo.png',
    });
    expect(() => parseConfig({ ...MINIMAL, siteAccentColor: 'red' })).toThrow(/siteAccentColor` must be a hex colour/);
    expect(() => parseConfig({ ...MINIMAL, siteLogoUrl: 'http://news.example.com/logo.png' })).toThrow(/siteLogoUrl` must be an https:\/\/ URL/);
  });
});
