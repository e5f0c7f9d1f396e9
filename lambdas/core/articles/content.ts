import { Marked } from 'marked';
import { type DefaultTreeAdapterTypes, defaultTreeAdapter, html as parse5Html, parseFragment } from 'parse5';
import sanitizeHtml from 'sanitize-html';
import { decodeHtmlEntities as decodeEntities, escapeHtml } from '../html.ts';

const marked = new Marked({ gfm: true, breaks: false, async: false });

const ALLOWED_TAGS = [
  'p',
  'br',
  'hr',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'code',
  'em',
  'strong',
  'b',
  'i',
  'u',
  's',
  'sub',
  'sup',
  'small',
  'mark',
  'abbr',
  'cite',
  'q',
  'ul',
  'ol',
  'li',
  'dl',
  'dt',
  'dd',
  'a',
  'img',
  'figure',
  'figcaption',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'th',
  'td',
  'caption',
  'time',
];
const ALLOWED_ATTRIBUTES: Record<string, string[]> = {
  a: ['href', 'title'],
  img: ['src', 'alt', 'title', 'width', 'height'],
  abbr: ['title'],
  time: ['datetime'],
  th: ['scope', 'colspan', 'rowspan'],
  td: ['colspan', 'rowspan'],
  ol: ['start'],
  code: ['class'],
};
const CODE_CLASS = /^language-[a-z0-9+-]+$/;

/**
 * The allow-list every article body passes through: no scripts, no event handlers, no `style` (it can
 * hide content), no iframes/objects/forms, only http(s)/mailto links and http(s) images, and every URL
 * made absolute against the article's URL so the HTML works in feeds and email.
 *
 * sanitize-html's parser keeps whatever structure it is given (`<table><td>`, `<a>` inside `<a>`,
 * unclosed `<p>`), which feed validators flag as not HTML. So the sanitized markup is then parsed as
 * an HTML5 parser does (implied `<tbody>`/`<tr>`, closed elements, misplaced tags dropped) and written
 * back out by `serializeAllowed`, which writes only what the allow-list permits.
 */
export function sanitizeArticleHtml(html: string, baseUrl: string): string {
  const sanitized = sanitizeHtml(html, sanitizeOptions(baseUrl));
  return serializeAllowed(parseFragment(BODY_CONTEXT, sanitized, {})).trim();
}

function sanitizeOptions(baseUrl: string): sanitizeHtml.IOptions {
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
  return {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: ALLOWED_ATTRIBUTES,
    allowedClasses: { code: [CODE_CLASS] },
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
  };
}

/** Article HTML sits inside a page's `<body>`: parse it as a fragment there, as a browser (or validator) would. */
const BODY_CONTEXT = defaultTreeAdapter.createElement('body', parse5Html.NS.HTML, []);
const ALLOWED_TAG_SET = new Set(ALLOWED_TAGS);
const VOID_TAGS = new Set(['br', 'hr', 'img']);

/** URLs as the sanitizer writes them: absolute, the scheme first and in lower case. */
const LINK_URL = /^(?:https?|mailto):/;
const IMAGE_URL = /^https?:/;

function isAllowedAttribute(tag: string, name: string, value: string): boolean {
  if (!ALLOWED_ATTRIBUTES[tag]?.includes(name)) return false;
  if (name === 'href' || name === 'src') return (tag === 'img' ? IMAGE_URL : LINK_URL).test(value);
  if (name === 'class') return value.split(' ').every((c) => CODE_CLASS.test(c));
  return true;
}

// The escaping sanitize-html applies, so well-formed sanitized markup comes out byte for byte as it went in.
const escapeText = (s: string) => escapeHtml(s, 'text');
const escapeAttribute = (s: string) => escapeHtml(s, 'attribute');

/**
 * HTML for a parsed fragment, holding to the allow-list once more: an element, attribute or other node
 * it does not permit is left out (the sanitizer ran first, so none is expected). Iterative, so no depth
 * of nesting exhausts the stack; void elements are written `<br />`, as sanitize-html writes them.
 */
function serializeAllowed(fragment: DefaultTreeAdapterTypes.DocumentFragment): string {
  let out = '';
  const pending: (DefaultTreeAdapterTypes.ChildNode | string)[] = fragment.childNodes.slice().reverse();
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (typeof node === 'string') {
      out += node;
    } else if (defaultTreeAdapter.isTextNode(node)) {
      out += escapeText(node.value);
    } else if (defaultTreeAdapter.isElementNode(node) && node.namespaceURI === parse5Html.NS.HTML && ALLOWED_TAG_SET.has(node.tagName)) {
      const tag = node.tagName;
      if (tag === 'img' && !node.attrs.some((a) => a.name === 'src' && isAllowedAttribute(tag, a.name, a.value))) continue;
      out += `<${tag}`;
      for (const a of node.attrs) if (!a.namespace && isAllowedAttribute(tag, a.name, a.value)) out += ` ${a.name}="${escapeAttribute(a.value)}"`;
      if (VOID_TAGS.has(tag)) {
        out += ' />';
        continue;
      }
      out += '>';
      // A parser drops a newline right after <pre>: double it so the text keeps its first line break.
      const first = node.childNodes[0];
      if (tag === 'pre' && first && defaultTreeAdapter.isTextNode(first) && first.value.startsWith('\n')) out += '\n';
      pending.push(`</${tag}>`);
      for (let i = node.childNodes.length - 1; i >= 0; i--) pending.push(node.childNodes[i]!);
    }
  }
  return out;
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

/** A summary derived from the body: the first paragraphs' text, cut at a word boundary near `max` characters. */
export function deriveSummary(contentHtml: string, max = 280): string {
  const firstBlocks =
    contentHtml
      .match(/<p[^>]*>[\s\S]*?<\/p>/gi)
      ?.slice(0, 2)
      .join(' ') ?? contentHtml;
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
