/**
 * Plain-text helpers for the text/plain part: trusted (already sanitised) HTML to readable text, and
 * line wrapping that never breaks a word or a URL.
 */
import { decodeHtmlEntities as decodeEntities } from '../html.ts';

/** One tag, attributes may hold `>` inside quotes. */
const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/g;
const BLOCK = new Set([
  'p',
  'div',
  'section',
  'article',
  'header',
  'footer',
  'aside',
  'main',
  'nav',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'ul',
  'ol',
  'table',
  'tr',
  'blockquote',
  'figure',
  'figcaption',
  'pre',
  'hr',
  'dl',
  'dt',
  'dd',
]);

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attrs);
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3] ?? '') : undefined;
}

/**
 * Readable plain text from trusted HTML: paragraphs and headings become blank-line separated blocks, list
 * items start with `- `, links keep their target as `text (url)`, images become `[alt]` (or nothing
 * without alt). Not a sanitiser: scripts and styles are dropped, everything else is only unwrapped.
 */
export function htmlToText(html: string): string {
  let s = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/\s+/g, ' ');
  const links: Array<string | undefined> = [];
  s = s.replace(TAG, (_whole, close: string, rawName: string, attrs: string) => {
    const name = rawName.toLowerCase();
    if (name === 'br') return '\n';
    if (name === 'li') return close ? '' : '\n- ';
    if (name === 'img') {
      const alt = attr(attrs, 'alt')?.trim();
      return alt ? `[${alt}]` : '';
    }
    if (name === 'a') {
      if (close) {
        const href = links.pop();
        return href ? `\u0001${href}\u0002` : '';
      }
      const href = attr(attrs, 'href');
      links.push(href && /^(https?:|mailto:)/i.test(href) ? href : undefined);
      return '\u0003';
    }
    if (BLOCK.has(name)) return '\n\n';
    if (name === 'td' || name === 'th') return close ? ' ' : '';
    return '';
  });
  // `text (url)`, but only once when the text already is the URL.
  s = s.replace(/\u0003([^\u0001\u0003]*)\u0001([^\u0002]*)\u0002/g, (_w, text: string, href: string) => {
    const label = text.trim();
    const bare = href.replace(/^mailto:/i, '');
    if (!label || label === href || label === bare) return ` ${bare} `;
    return `${text} (${bare})`;
  });
  s = s.replace(/[\u0001-\u0003]/g, '');
  s = decodeEntities(s);
  return s
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n- \n/g, '\n- ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Wraps lines longer than `width` at spaces. Words longer than the width (URLs) stay whole on their own
 * line. Continuation lines of a list item (`- `, `* `, `1. `) are indented under its text.
 */
export function wrapText(text: string, width = 76): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length <= width) {
      out.push(line);
      continue;
    }
    const lead = /^(\s*(?:[-*•]|\d+\.)?\s*)/.exec(line)![1]!;
    const indent = ' '.repeat(lead.length);
    const words = line.slice(lead.length).split(/ +/).filter(Boolean);
    let current = lead;
    let empty = true;
    for (const word of words) {
      if (!empty && current.length + 1 + word.length > width) {
        out.push(current);
        current = indent + word;
      } else {
        current += (empty ? '' : ' ') + word;
      }
      empty = false;
    }
    out.push(current);
  }
  return out.join('\n');
}

/** Trailing spaces off, at most one blank line in a row, one final newline. */
export function tidyText(text: string): string {
  return `${text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}
