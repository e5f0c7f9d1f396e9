/**
 * The one model every feed format is rendered from (one renderer per format, as jpmonette/feed does).
 * Everything is already resolved: absolute URLs, ISO dates, sanitized HTML. Renderers add no "now".
 */
export interface FeedPerson {
  name: string;
  email?: string | undefined;
  url?: string | undefined;
}

export interface FeedCategory {
  /** Human label, e.g. `Middle East`. */
  label: string;
  /** URL-safe term, e.g. `middle-east`. */
  term: string;
  /** Absolute URL of the tag's page or feed, used as the Atom category scheme base / RSS domain. */
  scheme: string;
}

export interface FeedEntry {
  /** Stable `tag:` URI (RFC 4151); never changes on edit. */
  id: string;
  /** Plain text (never HTML); renderers escape it per format. */
  title: string;
  /** Absolute URL of the article page. */
  url: string;
  /** Sanitized, self-contained HTML with absolute URLs. */
  contentHtml: string;
  /** Plain-text summary. */
  summary: string;
  /** ISO 8601 UTC, e.g. `2024-02-11T10:00:00.000Z`. */
  publishedAt: string;
  updatedAt: string;
  authors: FeedPerson[];
  categories: FeedCategory[];
}

/** The three URLs of one document in each format. */
export interface FormatLinks {
  rss: string;
  atom: string;
  json: string;
}

export interface FeedDocument {
  /** `subscription`: the newest N entries. `archive`: one RFC 5005 archive page (one calendar month). */
  kind: 'subscription' | 'archive';
  /** Stable `tag:` URI of the feed (same for all its documents and formats). */
  id: string;
  title: string;
  description: string;
  /** BCP 47, e.g. `en-US`. */
  language: string;
  /** The HTML page this feed describes (rel="alternate"). */
  homeUrl: string;
  /** This document's own URL in each format (rel="self" points at the format being rendered). */
  self: FormatLinks;
  /** For archive pages: the subscription document (rel="current"). */
  current?: FormatLinks | undefined;
  /** RFC 5005 rel="prev-archive" (older) and rel="next-archive" (newer) archive pages. */
  prevArchive?: FormatLinks | undefined;
  nextArchive?: FormatLinks | undefined;
  /** WebSub hub (rel="hub"), subscription documents only. */
  hub?: string | undefined;
  /** The newest entry's `updatedAt`, or a fixed date when empty. Never "now". */
  updated: string;
  copyright: string;
  generator: { name: string; uri: string; version: string };
  iconUrl?: string | undefined;
  logoUrl?: string | undefined;
  /** Newest first. */
  entries: FeedEntry[];
}

export type FeedFormat = 'rss' | 'atom' | 'json';

export const CONTENT_TYPES: Record<FeedFormat, string> = {
  rss: 'application/rss+xml; charset=utf-8',
  atom: 'application/atom+xml; charset=utf-8',
  json: 'application/feed+json; charset=utf-8',
};
