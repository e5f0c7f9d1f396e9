/**
 * Turns a plain-text article (as exported by publishers' old sites) into a title, an optional
 * publication date and a Markdown body.
 *
 * Expected shape:
 *
 * ```text
 * Title of the article
 *
 *   February 11, 2024
 *
 * First paragraph…
 *
 * A Short Section Heading
 *
 * More paragraphs…
 *
 * Leave a Reply
 * Your email address will not be published. Required fields are marked *
 * Copyright 2024, Example News LLC
 * ```
 *
 * - The first non-blank line is the title.
 * - A date on the next non-blank line becomes `publishedAt` (ISO 8601; midnight UTC when only a date).
 * - Paragraphs are separated by blank lines; the lines of one paragraph are joined with a space.
 * - A short standalone line without terminal punctuation, followed by more text, is a section heading.
 * - Trailing site furniture (comment forms, share widgets, copyright lines) is dropped.
 * - The text is escaped so that it renders as the same text: nothing turns into a list, heading, link,
 *   emphasis or HTML by accident.
 */
export interface PlainTextArticle {
  title: string;
  publishedAt?: string;
  bodyMarkdown: string;
}

export function parsePlainTextArticle(text: string): PlainTextArticle {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map(cleanLine);

  let i = nextNonBlank(lines, 0);
  if (i === -1) throw new Error('plain-text article has no title: the text is empty (the first non-blank line must be the title)');
  const title = collapseSpaces(lines[i]!);
  if (parseDateLine(title) !== undefined) {
    throw new Error(`plain-text article has no title: the first non-blank line is a date ("${title}"); put the title on the first line`);
  }
  i += 1;

  let publishedAt: string | undefined;
  const dateIndex = nextNonBlank(lines, i);
  if (dateIndex !== -1) {
    const date = parseDateLine(lines[dateIndex]!);
    if (date !== undefined) {
      publishedAt = date;
      i = dateIndex + 1;
    }
  }

  const bodyLines = dropTrailingBoilerplate(lines.slice(i));
  const blocks = toBlocks(bodyLines);
  const out: string[] = [];
  blocks.forEach((block, index) => {
    const hasFollowingText = index < blocks.length - 1;
    if (block.lines.length === 1 && hasFollowingText && isHeading(block.text)) out.push(`## ${escapeHeading(block.text)}`);
    else out.push(escapeParagraph(block.text));
  });

  const result: PlainTextArticle = { title, bodyMarkdown: out.length ? `${out.join('\n\n')}\n` : '' };
  if (publishedAt !== undefined) result.publishedAt = publishedAt;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Lines and blocks

/** Trims a line, treating no-break and other Unicode spaces as whitespace. */
function cleanLine(line: string): string {
  return line.replace(/^[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+|[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+$/g, '');
}

/** Runs of whitespace (including no-break spaces that sit next to other spaces) become one space. */
function collapseSpaces(s: string): string {
  return s.replace(/[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}|\t/g, ' ');
}

function nextNonBlank(lines: string[], from: number): number {
  for (let i = from; i < lines.length; i++) if (lines[i] !== '') return i;
  return -1;
}

interface Block {
  lines: string[];
  text: string;
}

function toBlocks(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.length) blocks.push({ lines: current, text: collapseSpaces(current.join(' ')) });
    current = [];
  };
  for (const line of lines) {
    if (line === '') flush();
    else current.push(line);
  }
  flush();
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// Boilerplate

const BOILERPLATE: RegExp[] = [
  // Comment forms (WordPress, Blogger, Disqus and friends).
  /^leave a (reply|comment)\b.{0,60}$/i,
  /^(post|add|write|submit) (a |your )?comments?$/i,
  /^(cancel reply|reply|post comment|submit comment|comments?|responses?|discussion)$/i,
  /^\d+ (comments?|responses?|replies|thoughts on\b.*)$/i,
  /^comments? \(\d+\)$/i,
  /^comments are closed\b/i,
  /^you must be logged in to post a comment\b/i,
  /your email address will not be published/i,
  /required fields are marked/i,
  /^(name|e-?mail|website|url|comment)\s*\*?:?$/i,
  /^save my name, email,? and website\b/i,
  /^notify me of (follow-up comments|new posts)\b/i,
  /^this site uses akismet\b/i,
  // Share widgets.
  /^(share this|like this|share|share on \w+|tweet|like loading\.\.\.|loading\.\.\.)\s*:?$/i,
  // Copyright footers.
  /^(copyright\b|©|\(c\)\s*\d{4})/i,
  /^all rights reserved\.?$/i,
];

export function isBoilerplateLine(line: string): boolean {
  const s = collapseSpaces(cleanLine(line));
  return s !== '' && BOILERPLATE.some((re) => re.test(s));
}

/** Removes site furniture from the end of the text (never from the middle). */
function dropTrailingBoilerplate(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0) {
    const line = lines[end - 1]!;
    if (line === '' || isBoilerplateLine(line)) end -= 1;
    else break;
  }
  return lines.slice(0, end);
}

// ---------------------------------------------------------------------------------------------
// Headings

const MAX_HEADING_WORDS = 10;
const MAX_HEADING_CHARS = 80;

/** A short line that starts with a capital or digit, does not end like a sentence or a quotation, and is not a date. */
export function isHeading(line: string): boolean {
  if (line.length > MAX_HEADING_CHARS) return false;
  if (line.split(' ').length > MAX_HEADING_WORDS) return false;
  if (!/^[\p{Lu}\p{N}]/u.test(line)) return false;
  if (!/\p{L}/u.test(line)) return false;
  if (/[.!?,;:…"'”’»*-]$/u.test(line)) return false;
  if (parseDateLine(line) !== undefined) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Escaping

/**
 * Escapes characters that Markdown would interpret anywhere in a line: backslash, code, emphasis,
 * links and images, raw HTML and autolinks, strikethrough and entity references.
 */
function escapeInline(s: string): string {
  return (
    s
      .replace(/[\\`*[\]<~]/g, (c) => `\\${c}`)
      // `_` only where it can open or close emphasis (not inside snake_case words).
      .replace(/(^|[^\p{L}\p{N}])_|_(?=[^\p{L}\p{N}]|$)/gu, (m) => m.replace('_', '\\_'))
      // `&amp;`, `&#39;`: keep them as literal text rather than the character they name.
      .replace(/&(?=#?[a-z0-9]+;)/gi, '\\&')
  );
}

/** Escapes what would make a line start a block: heading, list, quote, thematic break. */
function escapeLineStart(s: string): string {
  // Ordered list: `1.` or `1)` followed by a space or the end.
  const ordered = /^(\d{1,9})([.)])(?=\s|$)/.exec(s);
  if (ordered) return `${ordered[1]}\\${ordered[2]}${s.slice(ordered[0].length)}`;
  // `#` heading, `>` quote, `+`/`-` list or thematic break.
  if (/^[#>+-]/.test(s)) return `\\${s}`;
  return s;
}

function escapeParagraph(text: string): string {
  return escapeLineStart(escapeInline(text));
}

function escapeHeading(text: string): string {
  // A trailing `#` run would be read as the heading's closing sequence.
  return escapeInline(text).replace(/#+$/, (m) => `\\${m}`);
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: Record<string, number> = {
  jan: 1,
  january: 1,
  feb: 2,
  february: 2,
  mar: 3,
  march: 3,
  apr: 4,
  april: 4,
  may: 5,
  jun: 6,
  june: 6,
  jul: 7,
  july: 7,
  aug: 8,
  august: 8,
  sep: 9,
  sept: 9,
  september: 9,
  oct: 10,
  october: 10,
  nov: 11,
  november: 11,
  dec: 12,
  december: 12,
};

/**
 * Reads a line that is only a date, optionally with a label or weekday: `February 11, 2024`,
 * `Feb. 11, 2024`, `11 February 2024`, `2024-02-11`, `2024/02/11`, `Published: Sunday, Feb 11, 2024`,
 * or a full ISO date-time. Returns an ISO 8601 string, or undefined when the line is not a date.
 * Ambiguous numeric forms (`02/11/2024`) are not read as dates.
 */
export function parseDateLine(line: string): string | undefined {
  let s = collapseSpaces(cleanLine(line));
  s = s.replace(/^(published|posted|updated|date|dated)(\s+on)?\s*:?\s*/i, '');
  s = s.replace(/^(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+/i, '');

  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(s);
  if (iso) {
    const [, y, m, d, hh, mm, ss, zone] = iso;
    if (!validDate(+y!, +m!, +d!)) return undefined;
    if (hh === undefined) return dateOnly(+y!, +m!, +d!);
    if (+hh! > 23 || +mm! > 59 || +(ss ?? 0) > 59) return undefined;
    const tz = zone === undefined || zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const t = new Date(`${y}-${m}-${d}T${hh}:${mm}:${ss ?? '00'}${tz}`);
    return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
  }

  const slashed = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/.exec(s);
  if (slashed) return dateIfValid(+slashed[1]!, +slashed[2]!, +slashed[3]!);

  const monthFirst = /^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$/i.exec(s);
  if (monthFirst) {
    const month = MONTHS[monthFirst[1]!.toLowerCase()];
    return month ? dateIfValid(+monthFirst[3]!, month, +monthFirst[2]!) : undefined;
  }

  const dayFirst = /^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})$/i.exec(s);
  if (dayFirst) {
    const month = MONTHS[dayFirst[2]!.toLowerCase()];
    return month ? dateIfValid(+dayFirst[3]!, month, +dayFirst[1]!) : undefined;
  }
  return undefined;
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

function dateOnly(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T00:00:00Z`;
}

function dateIfValid(y: number, m: number, d: number): string | undefined {
  return validDate(y, m, d) ? dateOnly(y, m, d) : undefined;
}
