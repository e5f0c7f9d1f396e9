import { describe, expect, it } from 'vitest';
import { keys, parseFeedEntryKey } from '../../lambdas/adapters/dynamodb/keys.ts';

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
});
