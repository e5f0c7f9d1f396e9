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
}
