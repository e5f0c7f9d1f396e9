/**
 * The public pages' Liquid renderer (`templates/pages/`), and the topics a reader may choose on them.
 */
import { Liquid } from 'liquidjs';
import { normalizeTopics } from '../core/subscribers/schema.ts';

export interface PageSite {
  title: string;
  siteUrl: string;
  language: string;
}

export interface PageRenderer {
  render(name: string, data: Record<string, unknown>): Promise<string>;
}

/** Liquid over `templates/pages/`, every output HTML-escaped unless a template says otherwise. */
export function createPageRenderer(options: { templatesDir: string; site: PageSite }): PageRenderer {
  const engine = new Liquid({
    root: options.templatesDir,
    extname: '.liquid',
    cache: true,
    outputEscape: 'escape',
    strictFilters: true,
    ownPropertyOnly: true,
  });
  return {
    render: async (name, data) => (await engine.renderFile(name, { site: options.site, ...data })) as string,
  };
}

/**
 * Topics to offer as checkboxes, from configuration: tag names separated by commas
 * (`Politics, Science, Climate Change`), each slugified as article tags are.
 */
export function parseTopicChoices(value: string | undefined): { slug: string; name: string }[] {
  const seen = new Map<string, string>();
  for (const name of (value ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    const [slug] = normalizeTopics([name]);
    if (slug && !seen.has(slug)) seen.set(slug, name);
  }
  return [...seen].map(([slug, name]) => ({ slug, name }));
}

export interface TopicChoice {
  slug: string;
  name: string;
}

/** Topics a reader may choose: a fixed list (`SUBSCRIBE_TOPICS`), or loaded (the tags of published articles). */
export type TopicChoices = TopicChoice[] | (() => Promise<TopicChoice[]>);

/**
 * Loads topics at most once per `ttlMs` (pages are read far more often than articles are tagged); a
 * failed load is retried on the next call, and the last good list is used meanwhile.
 */
export function cachedTopicChoices(load: () => Promise<TopicChoice[]>, ttlMs = 60_000, now: () => number = Date.now): () => Promise<TopicChoice[]> {
  let cached: { at: number; list: TopicChoice[] } | undefined;
  return async () => {
    if (cached && now() - cached.at < ttlMs) return cached.list;
    try {
      cached = { at: now(), list: await load() };
    } catch (e) {
      if (!cached) throw e;
    }
    return cached.list;
  };
}
