/** What the core knows about the publisher's site. Built from configuration by a composition root. */
export interface SiteConfig {
  /** Public origin of the site, no trailing slash: `https://news.example.com`. */
  siteUrl: string;
  /** Origin that serves feeds and the API (CloudFront in AWS, the local server locally). */
  publicUrl: string;
  title: string;
  description: string;
  /** BCP 47 language tag, e.g. `en-US`. */
  language: string;
  /** Authority and date for `tag:` URIs (RFC 4151), fixed once: `tag:news.example.com,2024:`. */
  tagAuthority: string;
  tagDate: string;
  copyright: string;
  /** Newest N entries in a subscription feed document. */
  feedItemLimit: number;
  /** WebSub hub URL, when one is configured. */
  websubHub?: string | undefined;
  /** Optional logo/icon URL for feeds. */
  logoUrl?: string | undefined;
  iconUrl?: string | undefined;
  /**
   * Whether Inkwire writes the public site's pages (home, articles, tags, authors, sitemap). Off when the
   * publisher's own website is the site (SITE_URL differs from PUBLIC_URL and SITE_PAGES is not `on`).
   * Undefined means on.
   */
  pages?: boolean | undefined;
  /** The pages' look, from configuration; the templates under `templates/site/` read it. */
  theme?: SiteTheme | undefined;
  /** Where the page templates are (`templates/site/`); the repository's own when undefined. */
  templatesDir?: string | undefined;
}

/** Colours and footer of the public pages. */
export interface SiteTheme {
  /** Links and buttons, as a hex colour (`#1a56db`); a lighter shade is derived for dark mode. */
  accentColor: string;
  /** A line in every page's footer, e.g. who publishes the site. */
  footerText?: string | undefined;
}
