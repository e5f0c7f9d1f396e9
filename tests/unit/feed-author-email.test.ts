import { describe, expect, it } from 'vitest';
import { toFeedEntry } from '../../lambdas/core/feeds/rebuild.ts';
import { renderAtom } from '../../lambdas/core/feeds/render-atom.ts';
import { renderJson } from '../../lambdas/core/feeds/render-json.ts';
import type { FeedDocument } from '../../lambdas/core/feeds/model.ts';
import { renderRss } from '../../lambdas/core/feeds/render-rss.ts';
import { AuthorSchema, type Article } from '../../lambdas/core/articles/schema.ts';
import { TEST_SITE } from '../support/site.ts';

const article = (authors: Article['authors']): Article =>
  ({
    id: 'a1',
    slug: 'a1',
    title: 'Bridge closed',
    url: 'https://news.example.com/a1',
    contentHtml: '<p>Traffic is diverted.</p>',
    summary: 'Traffic is diverted.',
    status: 'published',
    publishedAt: '2026-12-01T08:00:00.000Z',
    createdAt: '2026-12-01T08:00:00.000Z',
    updatedAt: '2026-12-01T08:00:00.000Z',
    authors,
    tags: [],
  }) as unknown as Article;

describe('an author\u2019s email address in the feeds', () => {
  it('is left out unless the publisher asked for it, author by author', () => {
    const entry = toFeedEntry(
      TEST_SITE,
      article([
        { name: 'Ada', email: 'ada@news.example.com' },
        { name: 'Bo', email: 'bo@news.example.com', publishEmail: true },
      ]),
    );
    expect(entry.authors).toEqual([
      { name: 'Ada', email: undefined, url: undefined },
      { name: 'Bo', email: 'bo@news.example.com', url: undefined },
    ]);
  });

  it('never reaches a rendered feed when not asked for, and does when asked', () => {
    const doc = (authors: Article['authors']): FeedDocument => {
      const entry = toFeedEntry(TEST_SITE, article(authors));
      const self = { rss: 'https://news.example.com/feed.xml', atom: 'https://news.example.com/atom.xml', json: 'https://news.example.com/feed.json' };
      return {
        kind: 'subscription',
        id: 'tag:news.example.com,2024:feed',
        title: 'T',
        description: 'D',
        language: 'en',
        homeUrl: 'https://news.example.com/',
        self,
        updated: entry.updatedAt,
        copyright: 'c',
        generator: { name: 'Inkwire', uri: 'https://example.com', version: '0' },
        entries: [entry],
      };
    };
    for (const render of [renderAtom, renderRss, renderJson]) {
      expect(render(doc([{ name: 'Ada', email: 'ada@news.example.com' }]))).not.toContain('ada@news.example.com');
      expect(render(doc([{ name: 'Ada', email: 'ada@news.example.com', publishEmail: true }]))).toContain('ada@news.example.com');
    }
  });

  it('is a boolean the API accepts per author, off by default', () => {
    expect(AuthorSchema.parse({ name: 'Ada', email: 'ada@news.example.com' }).publishEmail).toBeUndefined();
    expect(AuthorSchema.safeParse({ name: 'Ada', publishEmail: 'yes' }).success).toBe(false);
  });
});
