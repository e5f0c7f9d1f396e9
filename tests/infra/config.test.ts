import { describe, expect, it } from 'vitest';
import { ConfigError, EXAMPLE_CONTEXT, parseConfig, readContext } from '../../infra/config.ts';

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
  it('says which context keys are missing and how to pass them', () => {
    const problems = problemsOf({});
    expect(problems).toEqual([
      'context `domain` is required: pass -c domain=news.example.com',
      expect.stringMatching(/^context `postalAddress` is required: .*CAN-SPAM.*: pass -c postalAddress="/),
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
      'context `domain` must be a host name without scheme or path, such as news.example.com (got "https://news.example.com/"): set it like -c domain=news.example.com',
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
      defaultFrequency: 'instant',
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
