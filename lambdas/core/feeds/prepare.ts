/**
 * Model preparation shared by the three renderers: people and categories cleaned and deduplicated, entries
 * unique by id, and the author a document falls back to.
 */
import type { FeedCategory, FeedDocument, FeedEntry, FeedPerson } from './model.ts';
import { isValidEmail, normalizeUrl } from './formats.ts';
import { cleanString } from './xml.ts';

export interface Person {
  name: string;
  email: string | undefined;
  url: string | undefined;
}

export interface Category {
  term: string;
  label: string;
  scheme: string | undefined;
}

/** People with a non-blank name (a nameless person is dropped); a malformed e-mail address is dropped. */
export function people(list: readonly FeedPerson[]): Person[] {
  const out: Person[] = [];
  for (const p of list) {
    const name = cleanString(p.name).trim();
    if (!name) continue;
    const email = p.email === undefined ? undefined : cleanString(p.email).trim();
    const url = p.url === undefined ? undefined : normalizeUrl(p.url);
    out.push({ name, email: isValidEmail(email) ? email : undefined, url: url || undefined });
  }
  return out;
}

/** Categories with a non-blank term (Atom requires `term`); a blank label falls back to the term. */
export function categories(list: readonly FeedCategory[]): Category[] {
  const out: Category[] = [];
  for (const c of list) {
    const term = cleanString(c.term).trim();
    if (!term) continue;
    const label = cleanString(c.label).trim() || term;
    const scheme = normalizeUrl(c.scheme);
    out.push({ term, label, scheme: scheme || undefined });
  }
  return out;
}

/**
 * The entries to render: the first (newest) of entries sharing an id wins, so no document ever carries duplicate
 * ids (RSS `guid` DuplicateValue, Atom `DuplicateEntries`).
 */
export function uniqueEntries(entries: readonly FeedEntry[]): FeedEntry[] {
  const seen = new Set<string>();
  const out: FeedEntry[] = [];
  for (const e of entries) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e);
  }
  return out;
}

/**
 * The feed-level author used when at least one entry has no author of its own (Atom requires an author on every
 * entry or on the feed; JSON Feed items inherit the top-level authors): the publication itself.
 */
export function fallbackAuthor(doc: FeedDocument, entries: readonly FeedEntry[]): Person | undefined {
  if (!entries.some((e) => people(e.authors).length === 0)) return undefined;
  const url = normalizeUrl(doc.homeUrl) || undefined;
  const name = cleanString(doc.title).trim() || url || 'Unknown';
  return { name, email: undefined, url };
}
