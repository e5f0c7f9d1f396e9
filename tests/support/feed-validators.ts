/**
 * Real validators for rendered feeds, shared by unit and end-to-end tests.
 *
 * - `xmlWellFormed(xml)`: libxml2's parser (`xmllint --noout`).
 * - `validateAtomWithSchema(xml)`: the RELAX NG schema of RFC 4287 Appendix B (tests/fixtures/atom.rng, converted
 *   from the RFC's RNC with trang) via `xmllint --relaxng`, plus the two Schematron rules of that appendix, which
 *   xmllint does not run, evaluated as XPath by xmllint.
 * - `parseWithFeedparser(text)`: Debian's python3-feedparser (`/usr/bin/python3`; the pyenv `python3` on PATH does
 *   not have it). feedparser 6.0.x cannot read JSON Feed, so JSON input is read by Python's json module and mapped
 *   onto the same shape (`parser: 'json'`); RSS and Atom always go through feedparser (`parser: 'feedparser'`).
 * - `validateJsonFeed11(obj)`: every MUST / "required" of https://jsonfeed.org/version/1.1, checked by hand.
 *
 * Requires `xmllint` (libxml2-utils) and python3-feedparser, both installed by .ci/run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ATOM_RNG_PATH = fileURLToPath(new URL('../fixtures/atom.rng', import.meta.url));
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface ValidationResult {
  ok: boolean;
  errors: string[];
}

function withTempFile<T>(name: string, content: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'inkwire-feed-'));
  const path = join(dir, name);
  try {
    writeFileSync(path, content, 'utf8');
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not be run: ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Is `xml` a well-formed XML document (libxml2)? */
export function xmlWellFormed(xml: string): ValidationResult {
  return withTempFile('doc.xml', xml, (path) => {
    const r = run('xmllint', ['--noout', '--nonet', path]);
    return { ok: r.status === 0, errors: r.status === 0 ? [] : lines(r.stderr) };
  });
}

const ATOM_NS = 'http://www.w3.org/2005/Atom';
const atom = (name: string) => `*[local-name()='${name}' and namespace-uri()='${ATOM_NS}']`;

/** The Schematron assertions of RFC 4287 Appendix B, as XPath counts of violating elements. */
const SCHEMATRON_RULES: { message: string; xpath: string }[] = [
  {
    message: 'An atom:feed must have an atom:author unless all of its atom:entry children have an atom:author.',
    xpath: `count(/${atom('feed')}[not(${atom('author')})]/${atom('entry')}[not(${atom('author')})][not(${atom('source')}/${atom('author')})])`,
  },
  {
    message: "An atom:entry must have at least one atom:link element with a rel attribute of 'alternate' or an atom:content.",
    xpath: `count(//${atom('entry')}[not(${atom('link')}[@rel='alternate'] or ${atom('link')}[not(@rel)] or ${atom('content')})])`,
  },
];

/** Validates an Atom document against RFC 4287's RELAX NG schema and its Schematron rules. */
export function validateAtomWithSchema(xml: string): ValidationResult {
  return withTempFile('feed.atom', xml, (path) => {
    const errors: string[] = [];
    const r = run('xmllint', ['--noout', '--nonet', '--relaxng', ATOM_RNG_PATH, path]);
    if (r.status !== 0) errors.push(...lines(r.stderr).filter((l) => !l.endsWith('fails to validate')));
    if (r.status === 0 || r.status === 3) {
      // 3 = invalid against the schema but well-formed: the rules still apply.
      for (const rule of SCHEMATRON_RULES) {
        const x = run('xmllint', ['--nonet', '--xpath', rule.xpath, path]);
        const count = Number(x.stdout.trim());
        if (x.status !== 0 || !Number.isFinite(count)) errors.push(`Schematron rule not evaluated: ${x.stderr.trim()}`);
        else if (count > 0) errors.push(`${rule.message} (${count} violation${count === 1 ? '' : 's'})`);
      }
    }
    if (r.status !== 0 && errors.length === 0) errors.push(`xmllint exited with ${r.status}`);
    return { ok: errors.length === 0, errors };
  });
}

export interface ParsedLink {
  rel: string | null;
  href: string | null;
  type: string | null;
}

export interface ParsedPerson {
  name: string | null;
  email: string | null;
  href: string | null;
}

export interface ParsedEntry {
  id: string | null;
  title: string | null;
  link: string | null;
  links: ParsedLink[];
  /** The values of the entry's content elements (RSS content:encoded, Atom content, JSON content_html). */
  content: string[];
  summary: string | null;
  published: string | null;
  updated: string | null;
  authors: ParsedPerson[];
  tags: { term: string | null; scheme: string | null; label: string | null }[];
}

export interface ParsedFeed {
  parser: 'feedparser' | 'json';
  bozo: boolean;
  bozoException: string | null;
  /** feedparser's version string (`rss20`, `atom10`), or the JSON Feed `version`. */
  version: string;
  feed: {
    title: string | null;
    subtitle: string | null;
    link: string | null;
    language: string | null;
    rights: string | null;
    updated: string | null;
    generator: string | null;
    links: ParsedLink[];
    authors: ParsedPerson[];
  };
  entries: ParsedEntry[];
}

const PARSE_SCRIPT = `
import json, sys
data = sys.stdin.buffer.read()

def s(v):
    return None if v is None else str(v)

def links(ls):
    return [{"rel": s(l.get("rel")), "href": s(l.get("href")), "type": s(l.get("type"))} for l in (ls or [])]

def persons(ps):
    return [{"name": s(p.get("name")), "email": s(p.get("email")), "href": s(p.get("href"))} for p in (ps or [])]

if data.lstrip()[:1] == b"{":
    try:
        doc = json.loads(data.decode("utf-8"))
        bozo, exc = False, None
    except Exception as e:
        doc, bozo, exc = {}, True, repr(e)
    def jp(ps):
        return [{"name": s(p.get("name")), "email": None, "href": s(p.get("url"))} for p in (ps or [])]
    fl = []
    if doc.get("home_page_url"): fl.append({"rel": "alternate", "href": doc["home_page_url"], "type": "text/html"})
    if doc.get("feed_url"): fl.append({"rel": "self", "href": doc["feed_url"], "type": "application/feed+json"})
    if doc.get("next_url"): fl.append({"rel": "next", "href": doc["next_url"], "type": "application/feed+json"})
    for h in doc.get("hubs") or []: fl.append({"rel": "hub", "href": s(h.get("url")), "type": None})
    out = {
        "parser": "json", "bozo": bozo, "bozoException": exc, "version": s(doc.get("version")) or "",
        "feed": {"title": s(doc.get("title")), "subtitle": s(doc.get("description")), "link": s(doc.get("home_page_url")),
                 "language": s(doc.get("language")), "rights": None, "updated": None, "generator": None,
                 "links": fl, "authors": jp(doc.get("authors"))},
        "entries": [{
            "id": s(i.get("id")), "title": s(i.get("title")), "link": s(i.get("url")),
            "links": [{"rel": "alternate", "href": s(i.get("url")), "type": "text/html"}] if i.get("url") else [],
            "content": [c for c in [i.get("content_html"), i.get("content_text")] if c is not None],
            "summary": s(i.get("summary")), "published": s(i.get("date_published")), "updated": s(i.get("date_modified")),
            "authors": jp(i.get("authors")),
            "tags": [{"term": s(t), "scheme": None, "label": None} for t in (i.get("tags") or [])],
        } for i in (doc.get("items") or [])],
    }
else:
    import feedparser
    d = feedparser.parse(data)
    f = d.feed
    out = {
        "parser": "feedparser", "bozo": bool(d.bozo), "bozoException": s(d.get("bozo_exception")), "version": d.version or "",
        "feed": {"title": f.get("title"), "subtitle": f.get("subtitle"), "link": f.get("link"), "language": f.get("language"),
                 "rights": f.get("rights"), "updated": f.get("updated"), "generator": f.get("generator"),
                 "links": links(f.get("links")), "authors": persons(f.get("authors"))},
        "entries": [{
            "id": e.get("id"), "title": e.get("title"), "link": e.get("link"), "links": links(e.get("links")),
            "content": [c.get("value") for c in e.get("content", [])],
            "summary": e.get("summary"), "published": e.get("published"), "updated": e.get("updated"),
            "authors": persons(e.get("authors")),
            "tags": [{"term": t.get("term"), "scheme": t.get("scheme"), "label": t.get("label")} for t in e.get("tags", [])],
        } for e in d.entries],
    }
sys.stdout.write(json.dumps(out))
`;

/** Parses RSS/Atom with feedparser (JSON Feed with Python's json module, see the file comment). */
export function parseWithFeedparser(text: string): ParsedFeed {
  const r = run(SYSTEM_PYTHON, ['-c', PARSE_SCRIPT], text);
  if (r.status !== 0) throw new Error(`feedparser failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ParsedFeed;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON Feed 1.1
// ---------------------------------------------------------------------------------------------------------------

const FEED_KEYS = new Set([
  'version',
  'title',
  'home_page_url',
  'feed_url',
  'description',
  'user_comment',
  'next_url',
  'icon',
  'favicon',
  'author',
  'authors',
  'language',
  'expired',
  'hubs',
  'items',
]);
const ITEM_KEYS = new Set([
  'id',
  'url',
  'external_url',
  'title',
  'content_html',
  'content_text',
  'summary',
  'image',
  'banner_image',
  'date_published',
  'date_modified',
  'author',
  'authors',
  'tags',
  'language',
  'attachments',
]);
const AUTHOR_KEYS = new Set(['name', 'url', 'avatar']);
const ATTACHMENT_KEYS = new Set(['url', 'mime_type', 'title', 'size_in_bytes', 'duration_in_seconds']);
const HUB_KEYS = new Set(['type', 'url']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const LANGUAGE = /^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a parsed JSON Feed against https://jsonfeed.org/version/1.1: required members, member types, author objects
 * with at least one member, hubs with type and url, attachments with url and mime_type, next_url different from
 * feed_url, RFC 3339 dates, RFC 5646-shaped language, absolute URLs, unique item ids, and that any other key is an
 * extension (`_` followed by a letter, no `.` in it or its member keys).
 */
export function validateJsonFeed11(feed: unknown): ValidationResult {
  const errors: string[] = [];
  const err = (path: string, msg: string) => errors.push(`${path}: ${msg}`);

  const str = (o: Record<string, unknown>, key: string, path: string, required = false): string | undefined => {
    const v = o[key];
    if (v === undefined) {
      if (required) err(`${path}.${key}`, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') {
      err(`${path}.${key}`, 'must be a string');
      return undefined;
    }
    return v;
  };
  const url = (o: Record<string, unknown>, key: string, path: string, required = false): string | undefined => {
    const v = str(o, key, path, required);
    if (v !== undefined && !URL.canParse(v)) err(`${path}.${key}`, `must be an absolute URL, got ${JSON.stringify(v)}`);
    return v;
  };
  const date = (o: Record<string, unknown>, key: string, path: string) => {
    const v = str(o, key, path);
    if (v !== undefined && (!RFC3339.test(v) || Number.isNaN(Date.parse(v)))) {
      err(`${path}.${key}`, `must be an RFC 3339 date-time, got ${JSON.stringify(v)}`);
    }
  };
  const language = (o: Record<string, unknown>, path: string) => {
    const v = str(o, 'language', path);
    if (v !== undefined && !LANGUAGE.test(v)) err(`${path}.language`, `must be an RFC 5646 language tag, got ${JSON.stringify(v)}`);
  };
  const keys = (o: Record<string, unknown>, allowed: Set<string>, path: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (allowed.has(k)) continue;
      if (!/^_[A-Za-z]/.test(k) || k.includes('.')) {
        err(`${path}.${k}`, 'is not a JSON Feed 1.1 member nor an extension (`_` + letter, no `.`)');
      } else if (isObject(v)) {
        for (const mk of Object.keys(v)) if (mk.includes('.')) err(`${path}.${k}.${mk}`, 'extension member keys must not contain `.`');
      }
    }
  };
  const author = (a: unknown, path: string) => {
    if (!isObject(a)) {
      err(path, 'must be an object');
      return;
    }
    if (a.name === undefined && a.url === undefined && a.avatar === undefined) {
      err(path, 'an author object must have at least one of name, url, avatar');
    }
    str(a, 'name', path);
    url(a, 'url', path);
    url(a, 'avatar', path);
    keys(a, AUTHOR_KEYS, path);
  };
  const authors = (o: Record<string, unknown>, path: string) => {
    if (o.authors !== undefined) {
      if (!Array.isArray(o.authors)) err(`${path}.authors`, 'must be an array');
      else for (const [i, a] of o.authors.entries()) author(a, `${path}.authors[${i}]`);
    }
    if (o.author !== undefined) author(o.author, `${path}.author`);
  };

  if (!isObject(feed)) return { ok: false, errors: ['feed: must be a JSON object'] };
  const version = str(feed, 'version', '$', true);
  if (version !== undefined && version !== 'https://jsonfeed.org/version/1.1') {
    err('$.version', `must be https://jsonfeed.org/version/1.1, got ${JSON.stringify(version)}`);
  }
  str(feed, 'title', '$', true);
  url(feed, 'home_page_url', '$');
  const feedUrl = url(feed, 'feed_url', '$');
  str(feed, 'description', '$');
  str(feed, 'user_comment', '$');
  const nextUrl = url(feed, 'next_url', '$');
  if (nextUrl !== undefined && nextUrl === feedUrl) err('$.next_url', 'must not be the same as feed_url');
  url(feed, 'icon', '$');
  url(feed, 'favicon', '$');
  authors(feed, '$');
  language(feed, '$');
  if (feed.expired !== undefined && typeof feed.expired !== 'boolean') err('$.expired', 'must be a boolean');
  if (feed.hubs !== undefined) {
    if (!Array.isArray(feed.hubs)) err('$.hubs', 'must be an array');
    else
      feed.hubs.forEach((h, i) => {
        const path = `$.hubs[${i}]`;
        if (!isObject(h)) {
          err(path, 'must be an object');
          return;
        }
        str(h, 'type', path, true);
        url(h, 'url', path, true);
        keys(h, HUB_KEYS, path);
      });
  }
  keys(feed, FEED_KEYS, '$');

  if (!Array.isArray(feed.items)) {
    err('$.items', feed.items === undefined ? 'is required' : 'must be an array');
  } else {
    const ids = new Set<string>();
    feed.items.forEach((item, i) => {
      const path = `$.items[${i}]`;
      if (!isObject(item)) {
        err(path, 'must be an object');
        return;
      }
      const id = str(item, 'id', path, true);
      if (id !== undefined) {
        if (ids.has(id)) err(`${path}.id`, `must be unique within the feed, ${JSON.stringify(id)} repeats`);
        ids.add(id);
      }
      url(item, 'url', path);
      url(item, 'external_url', path);
      str(item, 'title', path);
      const html = str(item, 'content_html', path);
      const text = str(item, 'content_text', path);
      if (html === undefined && text === undefined) err(path, 'content_html or content_text must be present');
      str(item, 'summary', path);
      url(item, 'image', path);
      url(item, 'banner_image', path);
      date(item, 'date_published', path);
      date(item, 'date_modified', path);
      authors(item, path);
      if (item.tags !== undefined) {
        if (!Array.isArray(item.tags) || item.tags.some((t) => typeof t !== 'string')) err(`${path}.tags`, 'must be an array of strings');
      }
      language(item, path);
      if (item.attachments !== undefined) {
        if (!Array.isArray(item.attachments)) err(`${path}.attachments`, 'must be an array');
        else
          item.attachments.forEach((a, j) => {
            const ap = `${path}.attachments[${j}]`;
            if (!isObject(a)) {
              err(ap, 'must be an object');
              return;
            }
            url(a, 'url', ap, true);
            str(a, 'mime_type', ap, true);
            str(a, 'title', ap);
            for (const n of ['size_in_bytes', 'duration_in_seconds']) {
              if (a[n] !== undefined && typeof a[n] !== 'number') err(`${ap}.${n}`, 'must be a number');
            }
            keys(a, ATTACHMENT_KEYS, ap);
          });
      }
      keys(item, ITEM_KEYS, path);
    });
  }
  return { ok: errors.length === 0, errors };
}
