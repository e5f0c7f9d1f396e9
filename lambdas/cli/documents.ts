import { parseDateLine, parsePlainTextArticle } from '../core/articles/plain-text.ts';
import { slugify } from '../core/articles/slug.ts';
import { decodeHtmlEntities as decodeEntities } from '../core/html.ts';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { CliError, UsageError } from './errors.ts';

export type BodyFormat = 'markdown' | 'html';

export interface AuthorInput {
  name: string;
  email?: string;
  url?: string;
  /** Show the email address in the feeds. */
  publishEmail?: boolean;
}

/** What a file says about the article; every field may be overridden on the command line. */
export interface ArticleDocument {
  title?: string;
  body: string;
  bodyFormat: BodyFormat;
  summary?: string;
  authors?: AuthorInput[];
  tags?: string[];
  url?: string;
  /** Publication date found in the file (ISO 8601). */
  date?: string;
  /** `draft: true` in front matter. */
  draft?: boolean;
  /** `id:` in front matter: the article this file is (set it to update an article made elsewhere). */
  id?: string;
  /** `slug:` in front matter: the article's stable name; by default the file's name gives it. */
  slug?: string;
  /** Things in the file that were ignored, worth telling the user. */
  warnings: string[];
}

/** An article slug as the API takes it. */
export const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+){0,40}$/;

/**
 * The slug a file stands for when its front matter names none: its name without the extension and
 * without a leading date (`2024-02-11-us-drone-strike.md` is `us-drone-strike`), the way static site
 * generators name posts. Publishing the file again finds the article by it.
 */
export function slugFromPath(path: string): string {
  const base = (path.split(/[\\/]/).pop() ?? path).replace(/\.[^.]+$/, '');
  const undated = base.replace(/^\d{4}-\d{2}-\d{2}[-_ ]+/, '') || base;
  return slugify(undated, 80);
}

export type FileKind = 'markdown' | 'html' | 'text';

export function fileKind(path: string): FileKind {
  const ext = /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === 'md' || ext === 'markdown') return 'markdown';
  if (ext === 'html' || ext === 'htm') return 'html';
  if (ext === 'txt' || ext === 'text') return 'text';
  throw new UsageError(`cannot publish "${path}": the file must end in .md, .html or .txt`, 'publish');
}

/** Reads an article out of a file's text. `path` is only used in messages. */
export function readDocument(path: string, content: string): ArticleDocument {
  const text = content.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  switch (fileKind(path)) {
    case 'markdown':
      return readMarkdown(path, text);
    case 'html':
      return readHtml(text);
    case 'text': {
      let article: ReturnType<typeof parsePlainTextArticle>;
      try {
        article = parsePlainTextArticle(text);
      } catch (err) {
        throw new CliError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const doc: ArticleDocument = { title: article.title, body: article.bodyMarkdown, bodyFormat: 'markdown', warnings: [] };
      if (article.publishedAt) doc.date = article.publishedAt;
      return doc;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Authors

/** `Jane Doe`, `Jane Doe <jane@example.com>` or `Jane Doe <https://jane.example>`. */
export function parseAuthor(value: string): AuthorInput {
  const s = value.trim();
  const m = /^(.*?)\s*<([^<>]*)>$/.exec(s);
  if (!m) {
    if (!s) throw new UsageError('an author needs a name, e.g. --author "Jane Doe <jane@example.com>"', 'publish');
    return { name: s };
  }
  const name = m[1]!.trim();
  const contact = m[2]!.trim();
  if (!name) throw new UsageError(`author "${value}" has no name; write it as "Name <email>"`, 'publish');
  if (/^https?:\/\//i.test(contact)) return { name, url: contact };
  if (contact.includes('@')) return { name, email: contact };
  throw new UsageError(`author "${value}": "${contact}" is neither an email address nor an http(s) URL`, 'publish');
}

// ---------------------------------------------------------------------------------------------
// Markdown with front matter

/** An author as front matter gives it: `Name <email>` text, or a mapping with `name`, `email`, `url`, `publishEmail`. */
function authorFrom(a: unknown): AuthorInput {
  const text = scalarText(a);
  if (text !== undefined) return parseAuthor(text);
  if (typeof a !== 'object' || Array.isArray(a)) throw new UsageError('an author is "Name <email>" or a mapping with name, email, url', 'publish');
  const o = a as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['name', 'email', 'url', 'publishEmail'].includes(k));
  if (unknown.length) throw new UsageError(`an author mapping takes name, email, url and publishEmail; not ${unknown.join(', ')}`, 'publish');
  const name = scalarText(o.name)?.trim();
  if (!name) throw new UsageError('an author mapping needs a name', 'publish');
  const out: AuthorInput = { name };
  if (o.email !== undefined) out.email = String(o.email);
  if (o.url !== undefined) out.url = String(o.url);
  if (o.publishEmail !== undefined) {
    if (typeof o.publishEmail !== 'boolean') throw new UsageError(`publishEmail must be true or false, not "${String(o.publishEmail)}"`, 'publish');
    out.publishEmail = o.publishEmail;
  }
  return out;
}

const FRONT_MATTER_KEYS: Record<string, 'title' | 'tags' | 'summary' | 'authors' | 'date' | 'url' | 'draft' | 'id' | 'slug'> = {
  id: 'id',
  slug: 'slug',
  title: 'title',
  tags: 'tags',
  tag: 'tags',
  summary: 'summary',
  description: 'summary',
  authors: 'authors',
  author: 'authors',
  date: 'date',
  published: 'date',
  publishedat: 'date',
  url: 'url',
  draft: 'draft',
};

function readMarkdown(path: string, text: string): ArticleDocument {
  const { data, body: rest } = splitFrontMatter(path, text);
  let body = rest.replace(/^\n+/, '');
  const doc: ArticleDocument = { body, bodyFormat: 'markdown', warnings: [] };

  for (const [rawKey, value] of Object.entries(data)) {
    const key = FRONT_MATTER_KEYS[rawKey.toLowerCase()];
    if (!key) {
      doc.warnings.push(`${path}: ignoring front matter field "${rawKey}" (known fields: id, slug, title, tags, summary, authors, date, url, draft)`);
      continue;
    }
    const text = scalarText(value);
    const items = Array.isArray(value) ? value : text === '' ? [] : [value];
    const one = text ?? (Array.isArray(value) ? value.map((v) => scalarText(v) ?? '').join(', ') : undefined);
    if (one === undefined) throw new CliError(`${path}: front matter ${rawKey} must be text or a list, not a mapping`);
    switch (key) {
      case 'title':
        if (one) doc.title = one;
        break;
      case 'summary':
        if (one) doc.summary = one;
        break;
      case 'url':
        if (one) doc.url = one;
        break;
      case 'id':
        if (!/^[a-z0-9]{1,64}$/.test(one))
          throw new CliError(`${path}: front matter ${rawKey} "${one}" is not an article id (lower-case letters and digits, as inkwire list shows)`);
        doc.id = one;
        break;
      case 'slug':
        if (!SLUG.test(one))
          throw new CliError(
            `${path}: front matter ${rawKey} "${one}" is not a slug; use lower-case letters and digits joined by single hyphens, e.g. us-drone-strike`,
          );
        doc.slug = one;
        break;
      case 'tags':
        // `tags: a, b` is a list too.
        doc.tags = (Array.isArray(value) ? value.map((t) => scalarText(t) ?? '') : one.split(',')).map((t) => t.trim()).filter(Boolean);
        break;
      case 'authors':
        doc.authors = items.map((a) => {
          try {
            return authorFrom(a);
          } catch (err) {
            throw new CliError(`${path}: front matter ${rawKey}: ${(err as Error).message}`);
          }
        });
        break;
      case 'draft':
        if (!/^(true|false|yes|no)$/i.test(one)) throw new CliError(`${path}: front matter ${rawKey} must be true or false, not "${one}"`);
        doc.draft = /^(true|yes)$/i.test(one);
        break;
      case 'date': {
        const iso = parseDateLine(one);
        if (!iso) throw new CliError(`${path}: front matter ${rawKey} "${one}" is not a date; use e.g. 2024-02-11 or 2024-02-11T09:00:00Z`);
        doc.date = iso;
        break;
      }
    }
  }

  if (doc.title === undefined) {
    // A leading `# Title` is the title; keep it out of the body so it does not show twice.
    const m = /^#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*(?:\n|$)/.exec(body);
    if (m) {
      doc.title = m[1]!.trim();
      body = body.slice(m[0].length).replace(/^\n+/, '');
      doc.body = body;
    }
  }
  return doc;
}

/**
 * Splits YAML front matter (`---` ... `---` or `...`) off the top of a file and parses it with a real YAML
 * parser (YAML 1.2 core schema: no dates or other types guessed from text), so nested lists such as
 * `authors:` with `- name:` items work as they do in Jekyll, Hugo or Ghost exports.
 */
export function splitFrontMatter(path: string, text: string): { data: Record<string, unknown>; body: string } {
  if (!/^---[ \t]*\r?\n/.test(text)) return { data: {}, body: text };
  const lines = text.split('\n');
  const end = lines.findIndex((l, i) => i > 0 && /^(---|\.\.\.)[ \t]*\r?$/.test(l));
  if (end === -1) throw new CliError(`${path}: the front matter that starts on line 1 has no closing "---" line`);
  let data: unknown;
  try {
    data = parseYaml(lines.slice(1, end).join('\n'), { schema: 'core', prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` (line ${e.linePos[0].line + 1})` : '';
    throw new CliError(`${path}: the front matter is not valid YAML${where}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return { data: {}, body: lines.slice(end + 1).join('\n') };
  if (typeof data !== 'object' || Array.isArray(data))
    throw new CliError(`${path}: the front matter must be "key: value" pairs, not a ${Array.isArray(data) ? 'list' : 'single value'}`);
  return { data: data as Record<string, unknown>, body: lines.slice(end + 1).join('\n') };
}

/** A scalar as text (`true`, `42` and `2024-02-11` as written); undefined for a list or a mapping. */
function scalarText(v: unknown): string | undefined {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// HTML

function readHtml(text: string): ArticleDocument {
  const titleTag = innerText(/<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(text)?.[1]);
  const description = /<meta\b(?=[^>]*\bname\s*=\s*["']?description["']?)[^>]*\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>/i.exec(text);

  let body =
    /<body\b[^>]*>([\s\S]*?)(?:<\/body\s*>|$)/i.exec(text)?.[1] ??
    text.replace(/<head\b[\s\S]*?<\/head\s*>/i, '').replace(/<!doctype[^>]*>|<\/?html\b[^>]*>/gi, '');
  body = body.trim();

  const firstH1 = /<h1\b[^>]*>([\s\S]*?)<\/h1\s*>/i.exec(body);
  const h1Text = innerText(firstH1?.[1]);
  const title = titleTag || h1Text || undefined;

  // A heading that repeats the title at the very top would show the title twice.
  const leading = /^(?:\s|<!--[\s\S]*?-->)*<h1\b[^>]*>([\s\S]*?)<\/h1\s*>/i.exec(body);
  if (leading && title !== undefined && innerText(leading[1]) === title) body = body.slice(leading[0].length).trim();

  const doc: ArticleDocument = { body, bodyFormat: 'html', warnings: [] };
  if (title !== undefined) doc.title = title;
  const summary = decodeEntities(description?.[1] ?? description?.[2] ?? '').trim();
  if (summary) doc.summary = summary;
  return doc;
}

function innerText(html: string | undefined): string {
  if (html === undefined) return '';
  return decodeEntities(html.replace(/<[^>]*>/g, ''))
    .replace(/\s+/g, ' ')
    .trim();
}
