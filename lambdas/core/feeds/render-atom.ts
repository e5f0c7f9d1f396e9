/**
 * Atom 1.0 (RFC 4287) renderer, with RFC 5005 archive links and WebSub hub.
 *
 * Valid against the RELAX NG schema of RFC 4287 Appendix B including its two Schematron rules (an author on the
 * feed or on every entry; an alternate link or content on every entry), and written so that the W3C Feed
 * Validator reports neither an error nor a warning. Conditions it checks for Atom and how they are avoided here:
 * - MissingSelf / SelfNotAtom / RelativeSelf: `link rel="self" type="application/atom+xml"` with the absolute
 *   `doc.self.atom` (SelfDoesntMatchLocation: that must be the URL the document is served at).
 * - MissingElement (author): a feed-level author (the publication) whenever an entry has no author.
 * - MisplacedMetadata: all feed metadata precedes the first entry.
 * - MissingCurrentInArchive / ArchiveIncomplete: archive pages carry `fh:archive` and the model's current and
 *   prev/next-archive links (the model must supply `current` for archive pages).
 * - FeedHistoryRelInEntry: RFC 5005 relations only at feed level. UnregisteredAtomLinkRel: registered rels only.
 * - DuplicateAtomLink: one alternate per type. DuplicateEntries: duplicate ids are dropped.
 * - InvalidRFC3339Date: `2024-02-11T10:00:00Z`. UnexpectedWhitespace: no padding inside id/updated/published.
 * - ContainsUndeclaredHTML / NotBlank: text constructs are type="text" with `&`/`<` as hex references; an empty
 *   subtitle, rights or summary is left out; blank author names and category terms are dropped.
 * - InvalidAddrSpec / UnknownHost: an e-mail address is written only in the form the validator accepts.
 * - InvalidFullLink / InvalidIRI: URLs are percent-encoded to RFC 2396 characters.
 * - AvoidNamespacePrefix: Atom is the default namespace. BadCharacters: C1 controls and U+FFFD are stripped.
 * - MissingTextualContent: an entry with neither content nor summary gets its title as summary.
 * HTML content is taken as sanitized by the model (SecurityRisk, SecurityRiskAttr, DangerousStyleAttr, NotHtml are
 * properties of that HTML, not of this renderer). Preconditions the renderer cannot repair without changing
 * identities or data: ids in canonical form (NonCanonicalURI), distinct entry `updatedAt` (DuplicateUpdated),
 * plausible dates (ImplausibleDate).
 */
import type { FeedDocument, FeedEntry, FormatLinks } from './model.ts';
import { cdata, cleanString, escapeAttr, escapeText } from './xml.ts';
import { languageTag, normalizeUrl, rfc3339Date } from './formats.ts';
import { type Person, categories, fallbackAuthor, people, uniqueEntries } from './prepare.ts';

const ATOM_TYPE = 'application/atom+xml';

function link(rel: string, href: string, type?: string): string {
  return `<link rel="${rel}"${type ? ` type="${type}"` : ''} href="${escapeAttr(normalizeUrl(href))}"/>\n`;
}

function archiveLink(rel: string, links: FormatLinks | undefined): string {
  return links ? link(rel, links.atom, ATOM_TYPE) : '';
}

function person(tag: 'author', p: Person): string {
  let out = `<${tag}><name>${escapeText(p.name)}</name>`;
  if (p.email) out += `<email>${escapeText(p.email)}</email>`;
  if (p.url) out += `<uri>${escapeText(p.url)}</uri>`;
  return `${out}</${tag}>\n`;
}

function textConstruct(tag: string, text: string): string {
  return `<${tag} type="text">${escapeText(text)}</${tag}>\n`;
}

function renderEntry(e: FeedEntry): string {
  const title = cleanString(e.title).trim();
  let summary = cleanString(e.summary).trim();
  if (!summary && !e.contentHtml) summary = title;

  let out = '<entry>\n';
  out += `<id>${escapeText(e.id.trim())}</id>\n`;
  out += textConstruct('title', title);
  out += link('alternate', e.url, 'text/html');
  out += `<published>${rfc3339Date(e.publishedAt)}</published>\n`;
  out += `<updated>${rfc3339Date(e.updatedAt)}</updated>\n`;
  for (const a of people(e.authors)) out += person('author', a);
  for (const c of categories(e.categories)) {
    const scheme = c.scheme ? ` scheme="${escapeAttr(c.scheme)}"` : '';
    out += `<category term="${escapeAttr(c.term)}"${scheme} label="${escapeAttr(c.label)}"/>\n`;
  }
  if (summary) out += textConstruct('summary', summary);
  if (e.contentHtml) out += `<content type="html">${cdata(e.contentHtml)}</content>\n`;
  return `${out}</entry>\n`;
}

/** Renders the document as an Atom 1.0 feed document (UTF-8). */
export function renderAtom(doc: FeedDocument): string {
  const entries = uniqueEntries(doc.entries);
  const language = languageTag(doc);
  const description = cleanString(doc.description).trim();
  const copyright = cleanString(doc.copyright).trim();
  const generatorName = cleanString(doc.generator.name).trim();
  const feedAuthor = fallbackAuthor(doc, entries);

  let out =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<feed xmlns="http://www.w3.org/2005/Atom"${doc.kind === 'archive' ? ' xmlns:fh="http://purl.org/syndication/history/1.0"' : ''}` +
    `${language ? ` xml:lang="${language}"` : ''}>\n` +
    `<id>${escapeText(doc.id.trim())}</id>\n` +
    textConstruct('title', doc.title);
  if (description) out += textConstruct('subtitle', description);
  out += `<updated>${rfc3339Date(doc.updated)}</updated>\n`;
  out += link('self', doc.self.atom, ATOM_TYPE);
  out += link('alternate', doc.homeUrl, 'text/html');
  if (doc.hub) out += link('hub', doc.hub);
  out += archiveLink('current', doc.current);
  out += archiveLink('prev-archive', doc.prevArchive);
  out += archiveLink('next-archive', doc.nextArchive);
  if (doc.kind === 'archive') out += '<fh:archive/>\n';
  if (feedAuthor) out += person('author', feedAuthor);
  if (generatorName) {
    const uri = normalizeUrl(doc.generator.uri);
    const version = cleanString(doc.generator.version).trim();
    out +=
      `<generator${uri ? ` uri="${escapeAttr(uri)}"` : ''}${version ? ` version="${escapeAttr(version)}"` : ''}>` +
      `${escapeText(generatorName)}</generator>\n`;
  }
  if (doc.iconUrl) out += `<icon>${escapeText(normalizeUrl(doc.iconUrl))}</icon>\n`;
  if (doc.logoUrl) out += `<logo>${escapeText(normalizeUrl(doc.logoUrl))}</logo>\n`;
  if (copyright) out += textConstruct('rights', copyright);

  for (const e of entries) out += renderEntry(e);
  return `${out}</feed>\n`;
}
