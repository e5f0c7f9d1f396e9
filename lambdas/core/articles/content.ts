import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

const marked = new Marked({ gfm: true, breaks: false, async: false });

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'code', 'em', 'strong', 'b', 'i', 'u', 's',
  'sub', 'sup', 'small', 'mark', 'abbr', 'cite', 'q', 'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'a', 'img', 'figure',
  'figcaption', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'caption', 'time',
];

/**
 * The allow-list every article body passes through: no scripts, no event handlers, no `style` (it can
 * hide content), no iframes/objects/forms, only http(s)/mailto links and http(s) images, and every URL
 * made absolute against the article's URL so the HTML works in feeds and email.
 */
export function sanitizeArticleHtml(html: string, baseUrl: string): string {
  const absolutize = (value: string | undefined): string | undefined => {
    if (!value) return undefined;
    try {
      const u = new URL(value, baseUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'mailto:') return undefined;
      return u.href;
    } catch {
      return undefined;
    }
  };
  return sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      a: ['href', 'title'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      abbr: ['title'],
      time: ['datetime'],
      th: ['scope', 'colspan', 'rowspan'],
      td: ['colspan', 'rowspan'],
      ol: ['start'],
      code: ['class'],
    },
    allowedClasses: { code: [/^language-[a-z0-9+-]+$/] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'object', 'embed', 'template', 'title'],
    transformTags: {
      h1: 'h2',
      a: (tagName, attribs) => {
        const href = absolutize(attribs.href);
        const out: Record<string, string> = {};
        if (href) out.href = href;
        if (attribs.title) out.title = attribs.title;
        return { tagName, attribs: out };
      },
      img: (tagName, attribs) => {
        const src = absolutize(attribs.src);
        const out: Record<string, string> = { ...attribs, alt: attribs.alt ?? '' };
        if (src && !src.startsWith('mailto:')) out.src = src;
        else delete out.src;
        return { tagName, attribs: out };
      },
    },
    exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
  }).trim();
}

export function markdownToHtml(markdown: string): string {
  return marked.parse(markdown) as string;
}

/** Plain text of sanitized HTML: tags dropped, block ends become spaces, entities decoded. */
export function htmlToText(html: string): string {
  const noTags = html
    .replace(/<\/(p|h[1-6]|li|blockquote|pre|tr|figcaption|dt|dd)>/gi, ' ')
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<[^>]+>/g, '');
  return decodeEntities(noTags).replace(/\s+/g, ' ').trim();
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED[e.toLowerCase()] ?? m;
  });
}

/** A summary derived from the body: the first paragraphs' text, cut at a word boundary near `max` characters. */
export function deriveSummary(contentHtml: string, max = 280): string {
  const firstBlocks = contentHtml.match(/<p[^>]*>[\s\S]*?<\/p>/gi)?.slice(0, 2).join(' ') ?? contentHtml;
  const text = htmlToText(firstBlocks) || htmlToText(contentHtml);
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,;:.–—-]+$/u, '')}…`;
}

/** The sanitized HTML and derived summary for an article body. */
export function renderArticleBody(body: string, format: 'markdown' | 'html', baseUrl: string): { body: string; contentHtml: string } {
  if (format === 'markdown') {
    return { body, contentHtml: sanitizeArticleHtml(markdownToHtml(body), baseUrl) };
  }
  // HTML is stored sanitized: what the publisher sent never reaches a feed or an email unfiltered.
  const clean = sanitizeArticleHtml(body, baseUrl);
  return { body: clean, contentHtml: clean };
}
