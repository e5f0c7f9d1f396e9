/**
 * `npm run build-site`: every page of a deployment that had articles before its pages were turned on,
 * written with the deployed function's settings against its table (DynamoDB Local here) and its bucket
 * (a stand-in for S3, which has no local edition).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { parseEnv, SiteEnvSchema, siteConfigFrom } from '../../lambdas/config.ts';
import { buildSiteWith } from '../../lambdas/ops/build-site.ts';
import { freshTable } from '../support/dynamo.ts';
import { FakeBucket, fakeS3Client } from '../support/fake-s3.ts';

const bucket = new FakeBucket();
let table: Awaited<ReturnType<typeof freshTable>>;
const functionEnv = () => ({
  TABLE_NAME: table.tableName,
  FEED_BUCKET: 'feeds',
  SITE_URL: 'https://news.example.com',
  PUBLIC_URL: 'https://news.example.com',
  SITE_TITLE: 'Thin Line News',
  MAIL_FROM: 'news@example.com',
});

beforeAll(async () => {
  await bucket.start();
  table = await freshTable('build-site');
  const deps = {
    articles: new DynamoArticleRepository(table.doc, table.tableName),
    scheduler: { schedule: async () => undefined, cancel: async () => undefined },
    clock: systemClock,
    site: siteConfigFrom(parseEnv(SiteEnvSchema, functionEnv()), 'https://news.example.com'),
  };
  for (const [title, at] of [
    ['Harbour reopens', '2024-02-11T08:00:00.000Z'],
    ['Budget passes', '2024-03-02T08:00:00.000Z'],
  ] as const) {
    await createArticle(deps, {
      title,
      body: `${title}.`,
      bodyFormat: 'markdown',
      authors: [{ name: 'Jane Doe' }],
      tags: ['City'],
      status: 'published',
      publishAt: at,
    });
  }
});
afterAll(() => bucket.stop());

describe('npm run build-site', () => {
  it('writes every page from the table, and nothing again when nothing changed', async () => {
    const report = await buildSiteWith(functionEnv(), { ddb: table.client, s3: fakeS3Client(bucket) });
    const keys = [...bucket.objects.keys()];
    for (const k of [
      'index.html',
      '404.html',
      'robots.txt',
      'articles/harbour-reopens/index.html',
      'articles/budget-passes/index.html',
      'tags/city/index.html',
      'authors/jane-doe/index.html',
      'sitemap.xml',
    ]) {
      expect(keys, k).toContain(k);
    }
    expect(bucket.objects.get('articles/harbour-reopens/index.html')!.body.toString()).toContain('Harbour reopens');
    expect(report.written).toContain('/articles/budget-passes/index.html');

    const puts = bucket.calls.filter((c) => c.startsWith('PUT')).length;
    const again = await buildSiteWith(functionEnv(), { ddb: table.client, s3: fakeS3Client(bucket) });
    expect(again.written).toEqual([]);
    expect(bucket.calls.filter((c) => c.startsWith('PUT')).length).toBe(puts);
  });

  it('refuses a function that has no feed bucket', async () => {
    const { FEED_BUCKET: _, ...env } = functionEnv();
    await expect(buildSiteWith(env, { ddb: table.client, s3: fakeS3Client(bucket) })).rejects.toThrow(/no FEED_BUCKET: pass the feed rebuilder/);
  });
});
