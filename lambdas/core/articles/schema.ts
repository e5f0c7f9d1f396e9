import * as z from 'zod';
import { isHeaderText } from '../email/message.ts';

/** Limits stated in the API and README. */
export const ARTICLE_LIMITS = {
  titleChars: 300,
  summaryChars: 1000,
  /** UTF-8 bytes of `body`; an article item (source + rendered HTML) must fit DynamoDB's 400 KB. */
  bodyBytes: 120_000,
  /** UTF-8 bytes of the source and its rendered HTML together, as stored. */
  storedBytes: 300_000,
  tags: 10,
  tagChars: 60,
  authors: 5,
} as const;

/**
 * C0 controls other than tab, LF and CR (multi-line text keeps those; `singleLine` refuses them), DEL,
 * C1 controls, the noncharacters U+FFFE/U+FFFF and lone surrogates: XML cannot carry them, so the feed
 * renderers would drop them silently (a title could render empty). U+FFFD is an ordinary character.
 */
const CONTROL_OR_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff\p{Cs}]/u;
const noControl = (s: string) => !CONTROL_OR_INVALID.test(s);
const NO_CONTROL = 'must not contain control characters or invalid code points';
const singleLine = (s: string) => !/[\t\r\n]/.test(s);

const httpUrl = z
  .string()
  .max(2000)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

export const AuthorSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(120).refine(singleLine, 'must be one line').refine(noControl, NO_CONTROL),
    email: z.email('must be an email address').max(254).optional(),
    /** Show `email` in the feeds (Atom `<email>`, RSS `<author>`, JSON Feed `mailto:`). Off unless asked: an address published in a feed is harvested. */
    publishEmail: z
      .boolean()
      .optional()
      .meta({ description: 'Show the email address in the feeds (off by default: a published address is harvested by spammers).' }),
    url: httpUrl.optional(),
  })
  .strict()
  .meta({ description: 'An author of the article.' });

export const ArticleStatusSchema = z.enum(['draft', 'published', 'scheduled']);
export type ArticleStatus = z.infer<typeof ArticleStatusSchema>;

const isoDate = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2024-02-11T09:00:00Z' })
  // Feed readers and validators distrust dates before 1990; and a date far ahead is a typo.
  .refine((s) => {
    const t = Date.parse(s);
    return t >= Date.UTC(1990, 0, 1) && t < Date.UTC(2200, 0, 1);
  }, 'must be between 1990 and 2199');

const fields = {
  // The title is the Subject: of the article's email: refused here by the mailer's own rule (U+2028, say).
  title: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(ARTICLE_LIMITS.titleChars)
    .refine(singleLine, { error: 'must be one line', abort: true })
    .refine(noControl, { error: NO_CONTROL, abort: true })
    .refine(isHeaderText, 'must be one line without control characters (it is an email subject)'),
  body: z.string().min(1, 'must not be empty').refine(noControl, NO_CONTROL),
  bodyFormat: z.enum(['markdown', 'html']),
  summary: z.string().trim().max(ARTICLE_LIMITS.summaryChars).refine(noControl, NO_CONTROL),
  authors: z.array(AuthorSchema).max(ARTICLE_LIMITS.authors, `at most ${ARTICLE_LIMITS.authors} authors`),
  tags: z
    .array(
      z
        .string()
        .trim()
        .min(1, 'must not be empty')
        .max(ARTICLE_LIMITS.tagChars)
        .refine(singleLine, 'must be one line')
        .refine(noControl, NO_CONTROL)
        .refine((t) => /[\p{L}\p{N}]/u.test(t), 'must contain a letter or digit'),
    )
    .max(ARTICLE_LIMITS.tags, `at most ${ARTICLE_LIMITS.tags} tags`),
  url: httpUrl,
  status: ArticleStatusSchema,
  publishAt: isoDate,
};

/** `POST /api/articles` and `PUT /api/articles/{id}` (PUT replaces every field; omitted ones take defaults). */
export const ArticleInputSchema = z
  .object({
    title: fields.title.meta({ description: 'Plain-text title.', example: 'U.S. Led Drone Strike Kills Iranian-Backed Militia Leader' }),
    body: fields.body.meta({ description: `Markdown or HTML, at most ${ARTICLE_LIMITS.bodyBytes} bytes. HTML is sanitized to an allow-list.` }),
    bodyFormat: fields.bodyFormat.default('markdown'),
    summary: fields.summary.optional().meta({ description: 'Plain text; derived from the body when absent.' }),
    authors: fields.authors.default([]),
    tags: fields.tags.default([]),
    slug: z
      .string()
      .max(80, 'must be at most 80 characters')
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lower-case letters and digits joined by single hyphens, e.g. us-drone-strike')
      .optional()
      .meta({
        description:
          'The article\u2019s slug (its URL path and stable name), fixed at creation: derived from the title when absent. On PUT it may only repeat the current slug. Find an article by it with `GET /api/articles?slug=`.',
      }),
    url: fields.url.optional().meta({ description: 'Canonical URL; derived from SITE_URL and a slug when absent.' }),
    status: fields.status.default('draft'),
    publishAt: fields.publishAt.optional().meta({
      description: 'For `scheduled`: when to publish (must be in the future). For `published`: the publication date to show (e.g. for imported archives).',
    }),
  })
  .strict();
export type ArticleInput = z.infer<typeof ArticleInputSchema>;

/** `PATCH /api/articles/{id}`: any subset of the fields. */
export const ArticlePatchSchema = z
  .object({
    title: fields.title,
    body: fields.body,
    bodyFormat: fields.bodyFormat,
    summary: fields.summary.nullable(),
    authors: fields.authors,
    tags: fields.tags,
    url: fields.url.nullable(),
    status: fields.status,
    publishAt: fields.publishAt.nullable(),
  })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'send at least one field to change');
export type ArticlePatch = z.infer<typeof ArticlePatchSchema>;

export interface Author {
  name: string;
  email?: string | undefined;
  /** The feeds show `email` only when this is true. */
  publishEmail?: boolean | undefined;
  url?: string | undefined;
}

export interface Tag {
  name: string;
  slug: string;
}

/** An article as stored and as the API returns it. */
export interface Article {
  id: string;
  slug: string;
  title: string;
  bodyFormat: 'markdown' | 'html';
  /** The source as given (HTML sanitized on the way in). */
  body: string;
  /** Sanitized HTML rendered from the body, with absolute URLs. */
  contentHtml: string;
  summary: string;
  /** True when the summary was derived from the body (it follows edits of the body). */
  summaryDerived: boolean;
  authors: Author[];
  tags: Tag[];
  url: string;
  /** True when the URL was derived from the slug. */
  urlDerived: boolean;
  status: ArticleStatus;
  publishAt?: string | undefined;
  /** First time the article went public; kept across unpublish/republish so it keeps its place. */
  publishedAt?: string | undefined;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-lock counter, incremented on every write. */
  version: number;
}

export const ArticleOutputSchema = z
  .object({
    id: z.string(),
    slug: z.string(),
    title: z.string(),
    bodyFormat: z.enum(['markdown', 'html']),
    body: z.string(),
    contentHtml: z.string(),
    summary: z.string(),
    authors: z.array(AuthorSchema),
    tags: z.array(z.object({ name: z.string(), slug: z.string() })),
    url: z.string(),
    status: ArticleStatusSchema,
    publishAt: z.string().optional(),
    publishedAt: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    version: z.number().int(),
  })
  .meta({ description: 'An article.' });

export function toArticleOutput(a: Article): z.infer<typeof ArticleOutputSchema> {
  const { summaryDerived: _s, urlDerived: _u, ...rest } = a;
  return rest;
}
