/**
 * JSON Feed 1.1 renderer (https://jsonfeed.org/version/1.1).
 *
 * Keys are always written in the same order; absent optional members are left out rather than written as null.
 * Strings are plain (JSON.stringify escapes them); the characters stripped from XML output are stripped here too,
 * so all three formats carry the same text. RFC 5005 has no JSON Feed equivalent except `next_url`, which points
 * at the older archive page (prev-archive) as JSON Feed pagination does.
 */
import type { FeedDocument, FeedEntry } from './model.ts';
import { cleanString } from './xml.ts';
import { languageTag, normalizeUrl, rfc3339Date } from './formats.ts';
import { type Person, categories, fallbackAuthor, people, uniqueEntries } from './prepare.ts';

interface JsonAuthor {
  name: string;
  url?: string;
}

interface JsonItem {
  id: string;
  url: string;
  title?: string;
  content_html: string;
  summary?: string;
  date_published: string;
  date_modified: string;
  authors?: JsonAuthor[];
  tags?: string[];
}

interface JsonFeed {
  version: 'https://jsonfeed.org/version/1.1';
  title: string;
  home_page_url: string;
  feed_url: string;
  description?: string;
  next_url?: string;
  icon?: string;
  favicon?: string;
  language?: string;
  authors?: JsonAuthor[];
  hubs?: { type: string; url: string }[];
  items: JsonItem[];
}

function author(p: Person): JsonAuthor {
  const url = p.url ?? (p.email ? `mailto:${p.email}` : undefined);
  return url ? { name: p.name, url } : { name: p.name };
}

function item(e: FeedEntry): JsonItem {
  const title = cleanString(e.title).trim();
  const summary = cleanString(e.summary).trim();
  const authors = people(e.authors).map(author);
  const tags = categories(e.categories).map((c) => c.label);
  return {
    id: cleanString(e.id).trim(),
    url: normalizeUrl(e.url),
    ...(title ? { title } : {}),
    content_html: cleanString(e.contentHtml),
    ...(summary ? { summary } : {}),
    date_published: rfc3339Date(e.publishedAt),
    date_modified: rfc3339Date(e.updatedAt),
    ...(authors.length ? { authors } : {}),
    ...(tags.length ? { tags } : {}),
  };
}

/** Builds the JSON Feed 1.1 object (key order fixed). */
export function toJsonFeed(doc: FeedDocument): JsonFeed {
  const entries = uniqueEntries(doc.entries);
  const feedUrl = normalizeUrl(doc.self.json);
  const nextUrl = doc.prevArchive ? normalizeUrl(doc.prevArchive.json) : '';
  const description = cleanString(doc.description).trim();
  const icon = doc.iconUrl ? normalizeUrl(doc.iconUrl) : '';
  const language = languageTag(doc);
  const feedAuthor = fallbackAuthor(doc, entries);
  const hub = doc.hub ? normalizeUrl(doc.hub) : '';

  return {
    version: 'https://jsonfeed.org/version/1.1',
    title: cleanString(doc.title),
    home_page_url: normalizeUrl(doc.homeUrl),
    feed_url: feedUrl,
    ...(description ? { description } : {}),
    ...(nextUrl && nextUrl !== feedUrl ? { next_url: nextUrl } : {}),
    ...(icon ? { icon, favicon: icon } : {}),
    ...(language ? { language } : {}),
    ...(feedAuthor ? { authors: [author(feedAuthor)] } : {}),
    ...(hub ? { hubs: [{ type: 'WebSub', url: hub }] } : {}),
    items: entries.map(item),
  };
}

/** Renders the document as JSON Feed 1.1 (compact JSON, UTF-8 when encoded). */
export function renderJson(doc: FeedDocument): string {
  return JSON.stringify(toJsonFeed(doc));
}
