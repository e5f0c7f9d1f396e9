import type { SiteConfig } from '../../lambdas/core/site.ts';

/** The site every harness and benchmark serves. */
export const TEST_SITE: SiteConfig = {
  siteUrl: 'https://news.example.com',
  publicUrl: 'https://news.example.com',
  title: 'Thin Line News',
  description: 'Independent reporting',
  language: 'en-US',
  tagAuthority: 'news.example.com',
  tagDate: '2024',
  copyright: 'Copyright 2024 Thin Line News',
  feedItemLimit: 50,
};
