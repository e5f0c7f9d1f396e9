/**
 * Site pages from the Liquid templates in `templates/site/` (a publisher edits them without touching code).
 * Pure apart from reading the templates: identical input gives byte-identical pages, and nothing here reads
 * the clock, so an unchanged page is never rewritten.
 */
import { fileURLToPath } from 'node:url';
import { Liquid } from 'liquidjs';
import type { Article } from '../articles/schema.ts';
import { slugify } from '../articles/slug.ts';
import { feedBasePath, feedGenerator, subscriptionPaths, type FeedKey } from '../feeds/feeds.ts';
import type { SiteConfig } from '../site.ts';
import { articlePath, authorPath, SITE_PATHS, tagPath } from './paths.ts';

const DEFAULT_TEMPLATES = fileURLToPath(new URL('../../../templates/site', import.meta.url));
const DEFAULT_ACCENT = '#1a56db';

const engines = new Map<string, Liquid>();
function engine(dir: string): Liquid {
  let e = engines.get(dir);
  if (!e) {
    e = new Liquid({ root: dir, extname: '.liquid', cache: true, strictFilters: true, ownPropertyOnly: true, outputEscape: 'escape' });
    engines.set(dir, e);
  }
  return e;
}

/** A reference from one page to another. */
export interface PageLink {
  path: string;
  label: string;
}

/** An article as a list shows it. */
export interface EntryView {
  path: string;
  title: string;
  summary: string;
  published: string;
  publishedLabel: string;
  authors: { name: string; path: string }[];
  tags: { name: string; path: string }[];
}

/** What a list page (home, tag, author, or one month of them) shows. */
export interface ListView {
  feed: FeedKey;
  /** Set for a month page (`YYYY-MM`). */
  month?: string | undefined;
  /** The tag's or author's name (the site's title for the site). */
  name: string;
  articles: Article[];
  older?: PageLink | undefined;
  newer?: PageLink | undefined;
}

/** What an article page shows besides the article. */
export interface ArticleView {
  article: Article;
  older?: Article | undefined;
  newer?: Article | undefined;
}

/** One digest of the newsletter archive, as the archive shows it. */
export interface DigestView {
  title: string;
  intro?: string | undefined;
  articles: { title: string; url: string; summary: string; publishedAt: string }[];
}

const json = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');
const hexToRgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** The accent for dark mode: the configured one mixed with white, so links stay readable on a dark page. */
export function darkAccent(hex: string): string {
  return `#${hexToRgb(hex)
    .map((c) =>
      Math.round(c + (255 - c) * 0.55)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** Renders every page type of the site. Cheap to create (template parses are cached per directory). */
export class SiteRenderer {
  private readonly liquid: Liquid;
  private readonly dateFormat: Intl.DateTimeFormat;
  private readonly monthFormat: Intl.DateTimeFormat;

  constructor(private readonly site: SiteConfig) {
    this.liquid = engine(site.templatesDir ?? DEFAULT_TEMPLATES);
    let locale = 'en-US';
    try {
      locale = Intl.DateTimeFormat.supportedLocalesOf([site.language])[0] ?? 'en-US';
    } catch {
      // A malformed tag keeps the default.
    }
    this.dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' });
    this.monthFormat = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', timeZone: 'UTC' });
  }

  /** `2024-02` as `February 2024`, in the site's language. */
  monthLabel(month: string): string {
    return this.monthFormat.format(new Date(`${month}-01T00:00:00Z`));
  }

  private dateLabel(iso: string): string {
    return this.dateFormat.format(new Date(iso));
  }

  private absolute(path: string): string {
    return this.site.publicUrl + path;
  }

  private common() {
    const s = this.site;
    const accent = s.theme?.accentColor ?? DEFAULT_ACCENT;
    return {
      site: {
        title: s.title,
        description: s.description,
        language: s.language,
        ogLocale: s.language.replace('-', '_'),
        logoUrl: s.logoUrl,
        iconUrl: s.iconUrl,
        copyright: s.copyright,
        footerText: s.theme?.footerText,
        generator: `${feedGenerator(s).name} ${feedGenerator(s).version}`,
      },
      colors: { accent, accentDark: darkAccent(accent) },
      links: {
        home: SITE_PATHS.home,
        topics: SITE_PATHS.topics,
        archive: SITE_PATHS.archive,
        subscribe: `${s.publicUrl}/subscribe`,
        subscribeAction: `${s.publicUrl}/subscribe`,
        rss: '/feed.xml',
        atom: '/atom.xml',
        json: '/feed.json',
      },
    };
  }

  private feedLinks(feed: FeedKey, title: string) {
    const p = subscriptionPaths(feed);
    return [
      { type: 'application/rss+xml', title: `${title} (RSS)`, href: this.absolute(p.rss) },
      { type: 'application/atom+xml', title: `${title} (Atom)`, href: this.absolute(p.atom) },
      { type: 'application/feed+json', title: `${title} (JSON Feed)`, href: this.absolute(p.json) },
    ];
  }

  private entry(a: Article): EntryView {
    return {
      path: articlePath(a.slug),
      title: a.title,
      summary: a.summary,
      published: a.publishedAt ?? a.createdAt,
      publishedLabel: this.dateLabel(a.publishedAt ?? a.createdAt),
      authors: a.authors.map((p) => ({ name: p.name, path: authorPath(p.name) })),
      tags: a.tags.map((t) => ({ name: t.name, path: tagPath(t.slug) })),
    };
  }

  private render(template: string, scope: Record<string, unknown>): string {
    return this.liquid.renderFileSync(template, { ...this.common(), ...scope }) as string;
  }

  /** The home page, a tag's or an author's page, or one month of them. */
  list(view: ListView): string {
    const s = this.site;
    const isSite = view.feed === 'site';
    const kind = isSite ? '' : view.feed.startsWith('tag:') ? 'tag' : 'author';
    const base = isSite ? s.title : kind === 'tag' ? `Topic: ${view.name}` : `Articles by ${view.name}`;
    const heading = view.month ? `${base}: ${this.monthLabel(view.month)}` : isSite ? s.title : base;
    const feedTitle = isSite ? s.title : `${s.title}: ${view.name}`;
    const path = `${feedBasePath(view.feed)}/${view.month ? `page/${view.month}/` : ''}`;
    const intro = view.month
      ? ''
      : isSite
        ? s.description
        : kind === 'tag'
          ? `Articles about ${view.name} from ${s.title}.`
          : `Articles by ${view.name} from ${s.title}.`;
    const up = view.month ? { path: `${feedBasePath(view.feed)}/`, label: isSite ? 'Latest articles' : `Latest from ${view.name}` } : undefined;
    const feeds = subscriptionPaths(view.feed);
    return this.render('list.liquid', {
      page: {
        title: view.month || !isSite ? `${heading} · ${s.title}` : s.title,
        heading,
        description: view.month ? `${heading}: every article of the month` : intro,
        canonical: this.absolute(path),
        type: 'website',
        feeds: this.feedLinks(view.feed, feedTitle),
        jsonLd: view.month
          ? undefined
          : json({
              '@context': 'https://schema.org',
              '@type': isSite ? 'WebSite' : 'CollectionPage',
              name: feedTitle,
              url: this.absolute(path),
              inLanguage: s.language,
            }),
      },
      list: {
        intro,
        followName: isSite ? s.title : view.name,
        feeds: { rss: feeds.rss, atom: feeds.atom, json: feeds.json },
        entries: view.articles.map((a) => this.entry(a)),
        older: view.older,
        newer: view.newer,
        up,
      },
    });
  }

  /** One article, with its authors, topics, dates and neighbours. */
  article(view: ArticleView): string {
    const s = this.site;
    const a = view.article;
    const published = a.publishedAt ?? a.createdAt;
    // The page shows an update only when the article was edited after it went public (an imported article,
    // written once with an older publication date, was not).
    const updated = a.version > 1 && a.updatedAt > published ? a.updatedAt : undefined;
    const canonical = a.url;
    const feeds = [
      ...this.feedLinks('site', s.title),
      ...a.tags.flatMap((t) => this.feedLinks(`tag:${t.slug}`, `${s.title}: ${t.name}`)),
      ...a.authors.flatMap((p) => this.feedLinks(`author:${slugify(p.name, 60)}`, `${s.title}: ${p.name}`)),
    ];
    const ld = {
      '@context': 'https://schema.org',
      '@type': 'NewsArticle',
      headline: a.title.slice(0, 110),
      description: a.summary,
      url: canonical,
      mainEntityOfPage: canonical,
      datePublished: published,
      dateModified: a.updatedAt,
      inLanguage: s.language,
      ...(a.tags.length ? { keywords: a.tags.map((t) => t.name) } : {}),
      author: a.authors.map((p) => ({ '@type': 'Person', name: p.name, ...(p.url ? { url: p.url } : {}) })),
      publisher: { '@type': 'Organization', name: s.title, url: `${s.siteUrl}/`, ...(s.logoUrl ? { logo: { '@type': 'ImageObject', url: s.logoUrl } } : {}) },
    };
    const link = (x: Article | undefined) => (x ? { path: articlePath(x.slug), title: x.title } : undefined);
    return this.render('article.liquid', {
      page: {
        title: `${a.title} · ${s.title}`,
        heading: a.title,
        description: a.summary || a.title,
        canonical,
        type: 'article',
        published,
        modified: a.updatedAt,
        feeds,
        jsonLd: json(ld),
      },
      article: {
        title: a.title,
        contentHtml: a.contentHtml,
        published,
        publishedLabel: this.dateLabel(published),
        updated,
        updatedLabel: updated ? this.dateLabel(updated) : undefined,
        authors: a.authors.map((p) => ({ name: p.name, path: authorPath(p.name) })),
        tags: a.tags.map((t) => ({ name: t.name, path: tagPath(t.slug) })),
        older: link(view.older),
        newer: link(view.newer),
      },
    });
  }

  /** The topics of the latest articles. */
  topics(tags: { name: string; slug: string }[]): string {
    const s = this.site;
    return this.render('topics.liquid', {
      page: {
        title: `Topics · ${s.title}`,
        heading: 'Topics',
        description: `Topics from ${s.title}`,
        canonical: this.absolute(SITE_PATHS.topics),
        type: 'website',
        feeds: this.feedLinks('site', s.title),
      },
      topics: tags.map((t) => ({ name: t.name, path: tagPath(t.slug) })),
    });
  }

  /** The page served, with status 404, for any address without a page. */
  notFound(): string {
    const s = this.site;
    return this.render('not-found.liquid', {
      page: {
        title: `Page not found · ${s.title}`,
        heading: 'Page not found',
        description: 'There is no page at this address.',
        type: 'website',
        feeds: this.feedLinks('site', s.title),
        robots: 'noindex',
      },
    });
  }

  private archiveFeedLinks(paths: { rss: string; atom: string; json: string }) {
    const title = `${this.site.title}: newsletter archive`;
    return [
      { type: 'application/rss+xml', title: `${title} (RSS)`, href: this.absolute(paths.rss) },
      { type: 'application/atom+xml', title: `${title} (Atom)`, href: this.absolute(paths.atom) },
      { type: 'application/feed+json', title: `${title} (JSON Feed)`, href: this.absolute(paths.json) },
    ];
  }

  /** The newsletter archive's index: every digest that went out, newest first. */
  archiveIndex(paths: { rss: string; atom: string; json: string }, digests: { title: string; path: string; count: number }[]): string {
    const s = this.site;
    const heading = `${s.title}: newsletter archive`;
    return this.render('archive-index.liquid', {
      page: {
        title: heading,
        heading,
        description: `Every newsletter ${s.title} has sent`,
        canonical: this.absolute(SITE_PATHS.archive),
        type: 'website',
        feeds: this.archiveFeedLinks(paths),
      },
      archive: { feeds: paths, digests },
    });
  }

  /** One digest of the archive: what went out, without anyone's name or links. */
  archiveDigest(paths: { rss: string; atom: string; json: string }, path: string, digest: DigestView): string {
    const s = this.site;
    return this.render('archive-digest.liquid', {
      page: {
        title: digest.title,
        heading: digest.title,
        description: `The newsletter ${s.title} sent`,
        canonical: this.absolute(path),
        type: 'website',
        feeds: this.archiveFeedLinks(paths),
      },
      digest: {
        intro: digest.intro ?? '',
        articles: digest.articles.map((a) => ({
          title: a.title,
          url: /^https?:\/\//i.test(a.url) ? a.url : '#',
          summary: a.summary,
          published: a.publishedAt,
          publishedLabel: this.dateLabel(a.publishedAt),
        })),
      },
    });
  }
}
