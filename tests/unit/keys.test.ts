import { describe, expect, it } from 'vitest';
import { keys, parseEmailClaimKey, parseFeedEntryKey, parseSendKey, parseSendPartition, parseSuppressionKey } from '../../lambdas/adapters/dynamodb/keys.ts';

describe('keys', () => {
  it('prefixes every key with its entity', () => {
    expect(keys.article('a1')).toEqual({ PK: 'ARTICLE#a1', SK: 'ARTICLE' });
    expect(keys.delivery('s1', 'u1')).toEqual({ PK: 'SEND#s1', SK: 'D#u1' });
    expect(keys.feedEntry('tag:politics', '2024-02-11T10:00:00.000Z', 'a1')).toEqual({
      PK: 'FEED#tag:politics',
      SK: 'E#2024-02-11T10:00:00.000Z#a1',
    });
  });

  it('parses a feed entry key back into feed, month and article', () => {
    expect(parseFeedEntryKey(keys.feedEntry('author:jane-doe', '2024-02-11T10:00:00.000Z', 'a1'))).toEqual({
      feed: 'author:jane-doe',
      month: '2024-02',
      publishedAt: '2024-02-11T10:00:00.000Z',
      articleId: 'a1',
    });
    expect(parseFeedEntryKey(keys.article('a1'))).toBeUndefined();
  });

  it('bounds a month of feed entries so that every entry of it, and no other, lies between', () => {
    const sk = (at: string) => keys.feedEntry('site', at, 'zz-last-id').SK;
    const { from, to } = keys.feedEntries.month('2024-02');
    const inside = (x: string) => x >= from && x <= to;
    expect(inside(sk('2024-02-01T00:00:00.000Z'))).toBe(true);
    expect(inside(sk('2024-02-29T23:59:59.999Z'))).toBe(true);
    expect(inside(sk('2024-01-31T23:59:59.999Z'))).toBe(false);
    expect(inside(sk('2024-03-01T00:00:00.000Z'))).toBe(false);
    const before = keys.feedEntries.before('2024-02');
    const after = keys.feedEntries.after('2024-02');
    expect(sk('2024-01-31T23:59:59.999Z') <= before.to && sk('2024-02-01T00:00:00.000Z') > before.to).toBe(true);
    expect(sk('2024-03-01T00:00:00.000Z') >= after.from && sk('2024-02-29T23:59:59.999Z') < after.from).toBe(true);
    const all = keys.feedEntries.all();
    expect(sk('1999-01-01T00:00:00.000Z') >= all.from && sk('2999-12-31T23:59:59.999Z') <= all.to).toBe(true);
  });

  it('puts an article due now, and none due later, at or below the scheduled bound', () => {
    const now = '2024-02-11T10:00:00.000Z';
    expect(keys.scheduledGsi2(now, 'zzzz').GSI2SK <= keys.scheduledDueBy(now)).toBe(true);
    expect(keys.scheduledGsi2('2024-02-11T10:00:00.001Z', 'a').GSI2SK <= keys.scheduledDueBy(now)).toBe(false);
  });

  it('names each index partition as the item keys put it', () => {
    expect(keys.articleListGsi1('t', 'a').GSI1PK).toBe(keys.articleListPartition);
    expect(keys.sendListGsi1('t', 's').GSI1PK).toBe(keys.sendListPartition);
    expect(keys.scheduledGsi2('t', 'a').GSI2PK).toBe(keys.scheduledPartition);
    expect(keys.subscriberStatusGsi1('pending', 't', 'u').GSI1PK).toBe(keys.subscriberStatusPartition('pending'));
    expect(keys.audienceGsi2('daily', 'u').GSI2PK).toBe(keys.audiencePartition('daily'));
    expect(keys.delivery('s', 'u').SK.startsWith(keys.deliveryPrefix)).toBe(true);
    expect(keys.digestArchiveEntry('t', 's')).toMatchObject({
      PK: keys.digestArchivePartition,
      SK: expect.stringMatching(new RegExp(`^${keys.digestArchiveEntryPrefix}`)),
    });
  });

  it('parses ids and hashes back out of the keys, and nothing out of other items', () => {
    expect(parseSendKey(keys.send('s1'))).toBe('s1');
    expect(parseSendKey(keys.delivery('s1', 'u1'))).toBeUndefined();
    expect(parseSendPartition(keys.sendReportCount('s1', 3).PK)).toBe('s1');
    expect(parseSendPartition(keys.subscriber('u1').PK)).toBeUndefined();
    expect(parseEmailClaimKey(keys.emailClaim('h1'))).toBe('h1');
    expect(parseEmailClaimKey(keys.suppression('h1'))).toBeUndefined();
    expect(parseSuppressionKey(keys.suppression('h1'))).toBe('h1');
    expect(parseSuppressionKey(keys.emailClaim('h1'))).toBeUndefined();
  });
});
