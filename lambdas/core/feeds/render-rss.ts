/**
 * RSS 2.0 renderer.
 *
 * Written so that the W3C Feed Validator reports neither an error nor a warning. Conditions it checks for RSS 2.0
 * and how they are avoided here:
 * - MissingAtomSelfLink: `atom:link rel="self" type="application/rss+xml"` to the document's own RSS URL
 *   (SelfNotAtom: the self type is an RSS/Atom type; SelfDoesntMatchLocation: `doc.self.rss` must be the URL the
 *   document is served at).
 * - MisplacedItem: every channel element precedes the first `item`.
 * - MissingDescription / MissingLink / MissingTitle: always written; NotBlank: an empty item title is left out.
 * - InvalidRFC2822Date / ProblematicalRFC822Date / IncorrectDOW: `Sun, 11 Feb 2024 10:00:00 +0000`.
 * - InvalidFullLink / InvalidUriChar: links are percent-encoded to RFC 2396 characters.
 * - MissingGuid, InvalidPermalink (a tag: guid must say isPermaLink="false"), DuplicateValue (duplicate ids are
 *   dropped).
 * - ContainsHTML / CharacterData (RSS Profile): `&` and `<` in plain text are written as `&#x26;` / `&#x3C;`.
 * - `author` must be an e-mail address (InvalidContact, MissingRealName, EmailFormat): only written as
 *   `address (Name)` for a single author with a well-formed address; names go to `dc:creator` otherwise, never
 *   both (DuplicateItemSemantics).
 * - NeedDescriptionBeforeContent: `description` comes before `content:encoded`.
 * - BadCharacters: C1 controls and U+FFFD are stripped with the characters XML forbids.
 * - ReservedPrefix / UnknownNamespace: only the standard prefixes atom, content, dc and fh.
 * HTML content is taken as sanitized by the model (SecurityRisk, SecurityRiskAttr, DangerousStyleAttr, NotHtml and
 * ContainsRelRef are properties of that HTML, not of this renderer).
 */
import type { FeedDocument, FeedEntry, FormatLinks } from './model.ts';
import { cdata, cleanString, escapeAttr, escapeText, plainTextToHtml } from './xml.ts';
import { languageTag, normalizeUrl, rfc822Date } from './formats.ts';
import { categories, people, uniqueEntries } from './prepare.ts';

const RSS_TYPE = 'application/rss+xml';

function atomLink(rel: string, href: string, type?: string): string {
  return `<atom:link rel="${rel}"${type ? ` type="${type}"` : ''} href="${escapeAttr(normalizeUrl(href))}"/>\n`;
}

function archiveLink(rel: string, links: FormatLinks | undefined): string {
  return links ? atomLink(rel, links.rss, RSS_TYPE) : '';
}

function renderItem(e: FeedEntry): string {
  const title = cleanString(e.title).trim();
  let out = '<item>\n';
  if (title) out += `<title>${escapeText(title)}</title>\n`;
  out += `<link>${escapeText(normalizeUrl(e.url))}</link>\n`;
  out += `<guid isPermaLink="false">${escapeText(e.id.trim())}</guid>\n`;
  out += `<pubDate>${rfc822Date(e.publishedAt)}</pubDate>\n`;
  out += `<description>${cdata(plainTextToHtml(e.summary))}</description>\n`;
  if (e.contentHtml) out += `<content:encoded>${cdata(e.contentHtml)}</content:encoded>\n`;

  const authors = people(e.authors);
  const only = authors.length === 1 ? authors[0] : undefined;
  if (only?.email) {
    // RFC 822 comment syntax: parentheses and backslashes inside the name would end or escape the comment.
    out += `<author>${escapeText(`${only.email} (${only.name.replace(/[()\\]/g, '')})`)}</author>\n`;
  } else {
    for (const a of authors) out += `<dc:creator>${escapeText(a.name)}</dc:creator>\n`;
  }

  for (const c of categories(e.categories)) {
    const domain = c.scheme ? ` domain="${escapeAttr(c.scheme)}"` : '';
    out += `<category${domain}>${escapeText(c.label)}</category>\n`;
  }
  return `${out}</item>\n`;
}

/** Renders the document as RSS 2.0 (UTF-8). */
export function renderRss(doc: FeedDocument): string {
  const language = languageTag(doc);
  const copyright = cleanString(doc.copyright).trim();
  const generator = cleanString(`${doc.generator.name} ${doc.generator.version}`).trim();

  let out =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/"' +
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:fh="http://purl.org/syndication/history/1.0">\n' +
    '<channel>\n' +
    `<title>${escapeText(doc.title)}</title>\n` +
    `<link>${escapeText(normalizeUrl(doc.homeUrl))}</link>\n` +
    // Readers treat the channel description as HTML (the validator as text): HTML-escaped text satisfies both.
    `<description>${escapeText(plainTextToHtml(doc.description))}</description>\n`;
  if (language) out += `<language>${language}</language>\n`;
  if (copyright) out += `<copyright>${escapeText(copyright)}</copyright>\n`;
  out += `<lastBuildDate>${rfc822Date(doc.updated)}</lastBuildDate>\n`;
  if (generator) out += `<generator>${escapeText(generator)}</generator>\n`;
  out += atomLink('self', doc.self.rss, RSS_TYPE);
  if (doc.hub) out += atomLink('hub', doc.hub);
  out += archiveLink('current', doc.current);
  out += archiveLink('prev-archive', doc.prevArchive);
  out += archiveLink('next-archive', doc.nextArchive);
  if (doc.kind === 'archive') out += '<fh:archive/>\n';

  for (const e of uniqueEntries(doc.entries)) out += renderItem(e);
  return `${out}</channel>\n</rss>\n`;
}
