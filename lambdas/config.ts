import * as z from 'zod';
import type { SiteConfig } from './core/site.ts';

const url = z.string().url().transform((s) => s.replace(/\/+$/, ''));

/** Environment shared by both composition roots. Missing or wrong values fail fast with what to set. */
export const SiteEnvSchema = z.object({
  SITE_URL: url.optional(),
  PUBLIC_URL: url.optional(),
  SITE_TITLE: z.string().min(1).default('Inkwire Local'),
  SITE_DESCRIPTION: z.string().default('Articles from a local Inkwire'),
  SITE_LANGUAGE: z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 language tag like en-US').default('en-US'),
  SITE_COPYRIGHT: z.string().optional(),
  FEED_ITEM_LIMIT: z.coerce.number().int().min(1).max(500).default(50),
  TAG_DATE: z.string().regex(/^\d{4}(-\d{2}-\d{2})?$/, 'must be YYYY or YYYY-MM-DD').default('2024'),
  WEBSUB_HUB: url.optional(),
  SITE_LOGO_URL: url.optional(),
  SITE_ICON_URL: url.optional(),
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

/** `localUrl` stands in for SITE_URL and PUBLIC_URL when they are not set (the local runtime's own address). */
export function siteConfigFrom(env: SiteEnv, localUrl: string): SiteConfig {
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
    copyright: env.SITE_COPYRIGHT ?? `Copyright ${env.TAG_DATE.slice(0, 4)} ${env.SITE_TITLE}`,
    feedItemLimit: env.FEED_ITEM_LIMIT,
    websubHub: env.WEBSUB_HUB,
    logoUrl: env.SITE_LOGO_URL,
    iconUrl: env.SITE_ICON_URL,
  };
}
