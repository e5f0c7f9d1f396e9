import { join } from 'node:path';
import * as z from 'zod';
import type { SiteConfig } from './core/site.ts';

/**
 * The frequency of a subscriber who chose none, in both runtimes (the stacks' `defaultFrequency` setting
 * defaults to it too): a weekly digest, not every article of a news site, so a reader who did not choose
 * is not flooded (and a flood is what turns into complaints).
 */
export const DEFAULT_SUBSCRIBER_FREQUENCY = 'weekly' as const;

const url = z
  .string()
  .url()
  .transform((s) => s.replace(/\/+$/, ''));

/** Environment shared by both composition roots. Missing or wrong values fail fast with what to set. */
export const SiteEnvSchema = z.object({
  SITE_URL: url.optional(),
  PUBLIC_URL: url.optional(),
  SITE_TITLE: z.string().min(1).default('Inkwire Local'),
  SITE_DESCRIPTION: z.string().default('Articles from a local Inkwire'),
  SITE_LANGUAGE: z
    .string()
    .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 language tag like en-US')
    .default('en-US'),
  SITE_COPYRIGHT: z.string().optional(),
  FEED_ITEM_LIMIT: z.coerce.number().int().min(1).max(500).default(50),
  TAG_DATE: z
    .string()
    .regex(/^\d{4}(-\d{2}-\d{2})?$/, 'must be YYYY or YYYY-MM-DD')
    .default('2024'),
  WEBSUB_HUB: url.optional(),
  SITE_LOGO_URL: url.optional(),
  SITE_ICON_URL: url.optional(),
  /**
   * Inkwire's public pages (home, articles, tags, authors, sitemap): `on` or `off`. Default: on when
   * SITE_URL is unset or equals PUBLIC_URL (Inkwire is the site), off when the publisher has a site of their own.
   */
  SITE_PAGES: z.enum(['on', 'off']).optional(),
  /** Accent colour of the public pages (links, buttons). */
  SITE_ACCENT_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a hex colour like #1a56db')
    .default('#1a56db'),
  /** A line in the footer of every public page. */
  SITE_FOOTER_TEXT: z.string().optional(),
});

export type SiteEnv = z.infer<typeof SiteEnvSchema>;

/** Parses environment with a schema; the error lists every variable to fix. */
export function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.infer<T> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`Invalid configuration; set these environment variables:\n${lines}`);
  }
  return result.data;
}

/**
 * The feeds' default copyright line: from the year the site began (TAG_DATE's, which never changes) to
 * `now`'s, e.g. "Copyright 2024–2026 Thin Line News". (It used to be TAG_DATE's year alone, which stays
 * in the past for ever.)
 */
export function defaultCopyright(title: string, tagDate: string, now: Date = new Date()): string {
  const since = tagDate.slice(0, 4);
  const year = String(now.getUTCFullYear());
  return `Copyright ${since < year ? `${since}\u2013${year}` : year} ${title}`;
}

/** `localUrl` stands in for SITE_URL and PUBLIC_URL when they are not set (the local runtime's own address). */
export function siteConfigFrom(env: SiteEnv & { TEMPLATES_DIR?: string | undefined }, localUrl: string, now: Date = new Date()): SiteConfig {
  const publicUrl = env.PUBLIC_URL ?? localUrl;
  const siteUrl = env.SITE_URL ?? localUrl;
  const host = new URL(siteUrl).hostname;
  return {
    siteUrl,
    publicUrl,
    title: env.SITE_TITLE,
    description: env.SITE_DESCRIPTION,
    language: env.SITE_LANGUAGE,
    tagAuthority: host,
    tagDate: env.TAG_DATE,
    copyright: env.SITE_COPYRIGHT ?? defaultCopyright(env.SITE_TITLE, env.TAG_DATE, now),
    feedItemLimit: env.FEED_ITEM_LIMIT,
    websubHub: env.WEBSUB_HUB,
    logoUrl: env.SITE_LOGO_URL,
    iconUrl: env.SITE_ICON_URL,
    pages: sitePagesOn(env.SITE_PAGES, siteUrl, publicUrl),
    theme: { accentColor: env.SITE_ACCENT_COLOR, footerText: env.SITE_FOOTER_TEXT },
    templatesDir: env.TEMPLATES_DIR ? join(env.TEMPLATES_DIR, 'site') : undefined,
  };
}

/** SITE_PAGES as set, else on exactly when Inkwire's address is the site's. */
export function sitePagesOn(setting: 'on' | 'off' | undefined, siteUrl: string, publicUrl: string): boolean {
  return setting === undefined ? siteUrl === publicUrl : setting === 'on';
}

/** Email and subscriber settings shared by both composition roots. */
export const MailEnvSchema = z.object({
  MAIL_FROM: z.email('must be an email address').default('newsletter@example.com'),
  MAIL_FROM_NAME: z.string().optional(),
  POSTAL_ADDRESS: z.string().min(1).default('Your publication, 1 Example Street, Example City'),
  SES_CONFIGURATION_SET_NEWSLETTER: z.string().default('inkwire-newsletter'),
  SES_CONFIGURATION_SET_TRANSACTIONAL: z.string().default('inkwire-transactional'),
  DEFAULT_FREQUENCY: z.enum(['instant', 'daily', 'weekly']).default(DEFAULT_SUBSCRIBER_FREQUENCY),
  SOFT_BOUNCE_THRESHOLD: z.coerce.number().int().min(1).max(100).default(3),
  /** Proxies in front of the app whose X-Forwarded-For hop is trusted (CloudFront: 1). */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(5).default(0),
  /** Topics offered on the subscribe and preference pages: comma-separated tag names. */
  SUBSCRIBE_TOPICS: z.string().optional(),
  /** Mailbox for mailto unsubscribes (SES receiving), when there is one. */
  UNSUBSCRIBE_MAILBOX: z.email().optional(),
  MAX_IMPORT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(100 * 1024 * 1024),
  BRAND_ACCENT_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a hex colour like #1a56db')
    .optional(),
  EMAIL_FOOTER_TEXT: z.string().optional(),
});
export type MailEnv = z.infer<typeof MailEnvSchema>;
