/**
 * Email rendering: Liquid templates a publisher can edit (`templates/email/`), one shared layout, CSS
 * inlined with juice, a text/plain part beside the HTML.
 *
 * Render once per Send, personalise per recipient: {@link EmailRenderer.prepare} runs Liquid and juice
 * once with placeholder tokens standing in for the per-recipient values (name, unsubscribe, preferences
 * and confirmation URLs); {@link PreparedEmail.personalise} then only splices each recipient's values into
 * the pre-split strings, HTML-escaped for the HTML part and as is for the text part. Juice parses the whole
 * document and is by far the most expensive step, so a Send of 100,000 recipients runs it once instead of
 * 100,000 times. The price: templates cannot branch on per-recipient values (`recipient.name` is always
 * set; a recipient without a name gets `branding.fallbackName`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Liquid } from 'liquidjs';
import juice from 'juice';
import * as z from 'zod';
import { htmlToText, tidyText, wrapText } from './plain-text.ts';
import { escapeHtml } from '../html.ts';

const color = z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'a hex colour like #1a73e8');
const webUrl = z.url({ protocol: /^https?$/ });

/** How every email looks: the publisher's identity, colours and the footer the law asks for. */
export const BrandingSchema = z.object({
  siteName: z.string().min(1),
  siteUrl: webUrl,
  /** Shown in the header instead of the site name when set; `logoAlt` defaults to the site name. */
  logoUrl: webUrl.optional(),
  logoAlt: z.string().optional(),
  logoWidth: z.number().int().positive().max(600).optional(),
  colors: z
    .object({
      accent: color.default('#1a56db'),
      background: color.default('#f4f4f5'),
      surface: color.default('#ffffff'),
      text: color.default('#1f2328'),
      muted: color.default('#6b7280'),
    })
    .prefault({}),
  /** A line above the links in the footer, e.g. why the recipient gets this email. */
  footerText: z.string().optional(),
  /** The sender's postal address (CAN-SPAM), shown in every email. Line breaks are kept. */
  postalAddress: z.string().min(1),
  /** Stands in for a recipient without a name: "Hi there". */
  fallbackName: z.string().default('there'),
  /** BCP 47 tag for `<html lang>`. */
  language: z.string().default('en'),
});
export type Branding = z.input<typeof BrandingSchema>;
type ResolvedBranding = z.output<typeof BrandingSchema>;

export type TemplateName = 'confirm' | 'welcome' | 'digest' | 'article';

export interface DigestArticle {
  /** Plain text. */
  title: string;
  /** Plain text. */
  summary: string;
  /** Absolute URL of the article page. */
  url: string;
  imageUrl?: string | undefined;
  /** Describes the image; an empty alt marks it decorative. */
  imageAlt?: string | undefined;
  /** ISO 8601. */
  publishedAt?: string | undefined;
}

export interface ArticleEmailContent {
  title: string;
  url: string;
  /** Sanitised, self-contained HTML with absolute URLs: trusted, inserted without escaping. */
  contentHtml: string;
  summary?: string | undefined;
  imageUrl?: string | undefined;
  imageAlt?: string | undefined;
  /** e.g. `By Jane Doe`. */
  byline?: string | undefined;
  publishedAt?: string | undefined;
}

/** What each template needs besides branding and recipient. */
export interface TemplateData {
  confirm: Record<never, never>;
  welcome: { frequency?: 'instant' | 'daily' | 'weekly' | undefined };
  digest: { period: 'daily' | 'weekly'; articles: DigestArticle[]; intro?: string | undefined };
  article: { article: ArticleEmailContent };
}

/** The per-recipient values, spliced in by {@link PreparedEmail.personalise}. */
export interface RecipientFields {
  name?: string | undefined;
  /** Page (GET) that unsubscribes; newsletter templates require it. */
  unsubscribeUrl?: string | undefined;
  preferencesUrl?: string | undefined;
  /** Confirmation page of a double opt-in; the `confirm` template requires it. */
  confirmUrl?: string | undefined;
}
type RecipientField = keyof RecipientFields;
const RECIPIENT_FIELDS = ['name', 'unsubscribeUrl', 'preferencesUrl', 'confirmUrl'] as const satisfies readonly RecipientField[];

const REQUIRED_FIELDS: Record<TemplateName, RecipientField[]> = {
  confirm: ['confirmUrl'],
  welcome: ['unsubscribeUrl', 'preferencesUrl'],
  digest: ['unsubscribeUrl', 'preferencesUrl'],
  article: ['unsubscribeUrl', 'preferencesUrl'],
};
const KIND: Record<TemplateName, 'transactional' | 'newsletter'> = {
  confirm: 'transactional',
  welcome: 'newsletter',
  digest: 'newsletter',
  article: 'newsletter',
};

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** One template rendered for one Send, waiting for recipients. */
export interface PreparedEmail {
  readonly name: TemplateName;
  /** Cheap: string splicing only. Throws when a field the template needs is missing or not an http(s) URL. */
  personalise(recipient: RecipientFields): RenderedEmail;
}

export interface EmailRenderer {
  /** Renders Liquid and inlines CSS once; call once per Send. */
  prepare<N extends TemplateName>(name: N, data: TemplateData[N]): Promise<PreparedEmail>;
  /** `prepare` and `personalise` in one, for a single recipient (confirmation, welcome). */
  render<N extends TemplateName>(name: N, data: TemplateData[N] & { recipient: RecipientFields }): Promise<RenderedEmail>;
}

export interface EmailRendererOptions {
  /** Directory with `layout.*.liquid`, `<name>.html.liquid`, `<name>.text.liquid` and `subjects.json`. */
  templatesDir: string;
  branding: Branding;
  /** Column at which the text part wraps. Default 76. */
  textWidth?: number;
}

function safeUrl(value: unknown): string {
  const s = String(value ?? '').trim();
  return /^(https?:|mailto:)/i.test(s) ? s : '#';
}

/** A string split at placeholder tokens, ready to be joined with per-recipient values. */
interface Spliced {
  literals: string[];
  fields: RecipientField[];
}

function splitAt(s: string, token: RegExp): Spliced {
  const literals: string[] = [];
  const fields: RecipientField[] = [];
  let last = 0;
  for (const m of s.matchAll(token)) {
    literals.push(s.slice(last, m.index));
    fields.push(m[1] as RecipientField);
    last = m.index + m[0].length;
  }
  literals.push(s.slice(last));
  return { literals, fields };
}

function fill(sp: Spliced, values: Record<RecipientField, string>, encode: (s: string) => string): string {
  let out = sp.literals[0]!;
  for (let i = 0; i < sp.fields.length; i++) out += encode(values[sp.fields[i]!]) + sp.literals[i + 1]!;
  return out;
}

/**
 * Loads the templates under `templatesDir` and returns a renderer. Template parses are cached, so a
 * publisher's edit is picked up when the renderer is created again (a new Lambda instance, a restart).
 *
 * @example
 * ```ts
 * const renderer = createEmailRenderer({ templatesDir: 'templates/email', branding });
 * const prepared = await renderer.prepare('digest', { period: 'daily', articles });
 * for (const s of subscribers) {
 *   const { subject, html, text } = prepared.personalise({ name: s.name, unsubscribeUrl: ..., preferencesUrl: ... });
 * }
 * ```
 */
export function createEmailRenderer(options: EmailRendererOptions): EmailRenderer {
  const branding: ResolvedBranding = BrandingSchema.parse(options.branding);
  const width = options.textWidth ?? 76;
  const common = { root: options.templatesDir, cache: true, strictFilters: true, ownPropertyOnly: true, timezoneOffset: 0 };
  const htmlEngine = new Liquid({ ...common, outputEscape: 'escape' });
  const textEngine = new Liquid(common);
  for (const engine of [htmlEngine, textEngine]) engine.registerFilter('safe_url', safeUrl);
  textEngine.registerFilter('html_to_text', (v: unknown) => htmlToText(String(v ?? '')));

  const subjectsFile = join(options.templatesDir, 'subjects.json');
  const subjects = JSON.parse(readFileSync(subjectsFile, 'utf8')) as Partial<Record<TemplateName, string>>;
  const subjectTemplates = new Map<TemplateName, ReturnType<Liquid['parse']>>();
  for (const name of Object.keys(KIND) as TemplateName[]) {
    const source = subjects[name];
    if (typeof source !== 'string') throw new Error(`${subjectsFile}: no subject for the "${name}" template`);
    subjectTemplates.set(name, textEngine.parse(source));
  }

  // Alphanumeric so that neither Liquid's escaping, nor juice, nor URL attributes, nor line wrapping alter it.
  const nonce = randomBytes(6).toString('hex');
  const placeholder = (f: RecipientField) => `IWPH${nonce}x${f}x`;
  const token = new RegExp(`IWPH${nonce}x(${RECIPIENT_FIELDS.join('|')})x`, 'g');
  const recipientPlaceholders = Object.fromEntries(RECIPIENT_FIELDS.map((f) => [f, placeholder(f)]));

  async function prepare<N extends TemplateName>(name: N, data: TemplateData[N]): Promise<PreparedEmail> {
    if (!(name in KIND)) throw new Error(`unknown email template: ${String(name)}`);
    const kind = KIND[name];
    const scope = { ...data, branding, colors: branding.colors, recipient: recipientPlaceholders, email: { kind, template: name } };
    const subjectRaw = (await textEngine.render(subjectTemplates.get(name)!, scope)) as string;
    const subject = subjectRaw.replace(/\s+/g, ' ').trim();
    const htmlRaw = (await htmlEngine.renderFile(`${name}.html.liquid`, { ...scope, subject })) as string;
    // Styles go inline for clients that drop <style>; media queries (dark mode, narrow screens) stay in a
    // <style> block, where the clients that support them read them.
    const html = juice(htmlRaw, {
      preserveMediaQueries: true,
      preserveFontFaces: true,
      removeStyleTags: true,
      applyWidthAttributes: true,
      applyHeightAttributes: false,
    });
    const textRaw = (await textEngine.renderFile(`${name}.text.liquid`, { ...scope, subject })) as string;
    // Wrapped per recipient (below), once the real name and URLs are in: a placeholder is not as long as
    // the value it stands for. Lines without placeholders are already short, so this costs little.
    const text = tidyText(textRaw);
    const parts = { subject: splitAt(subject, token), html: splitAt(html, token), text: splitAt(text, token) };
    const required = REQUIRED_FIELDS[name];

    return {
      name,
      personalise(recipient: RecipientFields): RenderedEmail {
        const values = {} as Record<RecipientField, string>;
        for (const f of RECIPIENT_FIELDS) {
          const v = recipient[f];
          if (f === 'name') {
            values.name = (v ?? '').replace(/\s+/g, ' ').trim() || branding.fallbackName;
            continue;
          }
          if (v === undefined || v === '') {
            if (required.includes(f)) throw new Error(`the "${name}" email needs recipient.${f}`);
            values[f] = '#';
            continue;
          }
          if (!/^https?:\/\/[^\s<>"]+$/i.test(v)) throw new Error(`recipient.${f} must be an absolute http(s) URL`);
          values[f] = v;
        }
        const plain = (s: string) => s;
        return {
          subject: fill(parts.subject, values, plain),
          html: fill(parts.html, values, (v) => escapeHtml(v)),
          text: wrapText(fill(parts.text, values, plain), width),
        };
      },
    };
  }

  return {
    prepare,
    async render(name, data) {
      const { recipient, ...rest } = data;
      return (await prepare(name, rest as unknown as TemplateData[typeof name])).personalise(recipient);
    },
  };
}
