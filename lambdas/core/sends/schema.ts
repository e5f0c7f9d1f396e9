import * as z from 'zod';
import { slugify } from '../articles/slug.ts';
import { isHeaderText } from '../email/message.ts';
import { EmailSchema } from '../subscribers/schema.ts';
import { COUNT_NAMES, REPORT_KINDS, SEND_STATUSES, SKIP_REASONS, type ReportKind, type SkipReason } from './model.ts';

const singleLine = (s: string) => !/[\r\n\u2028\u2029]/.test(s);
const noControl = (s: string) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s);

/** `POST /api/sends`. */
export const SendRequestSchema = z
  .object({
    kind: z.enum(['article', 'digest', 'confirmation']).meta({
      description:
        '`article`: one article to its audience. `digest`: each subscriber\u2019s new articles since their last digest. `confirmation`: asks every pending subscriber (or one import\u2019s, with `importId`) to confirm, through the transactional configuration set.',
    }),
    importId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'must be an import id')
      .optional()
      .meta({ description: 'Confirmation sends: only the pending subscribers of this import.' }),
    frequency: z.enum(['instant', 'daily', 'weekly', 'all']).optional().meta({
      description: 'Digest: `daily` or `weekly` (required). Article: whose mail it is, `instant` by default; `all` mails every confirmed subscriber.',
    }),
    articleId: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9]+$/, 'must be an article id')
      .optional()
      .meta({ description: 'Article sends: a published article.' }),
    topics: z
      .array(z.string().trim().min(1).max(60).refine(singleLine, 'must be one line'))
      .max(20)
      .transform((ts) => [...new Set(ts.map((t) => slugify(t, 60)))])
      .optional()
      .meta({ description: 'Article: only subscribers of these topics (and those without topics). Digest: only articles with these tags.' }),
    subject: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(singleLine, { error: 'must be one line', abort: true })
      .refine(noControl, { error: 'must not contain control characters', abort: true })
      .refine(isHeaderText, 'must be one line without control characters (it is the Subject: header)')
      .optional()
      .meta({ description: 'Replaces the template\u2019s subject line.' }),
    intro: z
      .string()
      .trim()
      .max(2000)
      .refine(noControl, 'must not contain control characters')
      .optional()
      .meta({ description: 'Digest: a paragraph above the articles.' }),
    dryRun: z.boolean().optional().meta({ description: 'Plan and count the audience without sending anything.' }),
  })
  .strict();

export const PreviewRequestSchema = SendRequestSchema.extend({
  subscriberId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional()
    .meta({ description: 'Render as this subscriber would get it; a sample subscriber (no topics) when absent.' }),
}).strict();

export const TestRequestSchema = SendRequestSchema.extend({
  addresses: z.array(EmailSchema).min(1).max(10).meta({ description: 'Where the test goes (at most 10). Nobody else gets anything.' }),
}).strict();

export const SendOutputSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['article', 'digest', 'confirmation']),
    trigger: z.enum(['publish', 'schedule', 'api', 'import']),
    status: z
      .enum(SEND_STATUSES as [string, ...string[]])
      .meta({ description: 'pending, planning, sending, paused, cancelled, completed, expired or failed.' }),
    reason: z.string().optional().meta({ description: 'Why it is paused, expired, failed or cancelled.' }),
    articleId: z.string().optional(),
    importId: z.string().optional(),
    frequency: z.enum(['instant', 'daily', 'weekly', 'all']).optional(),
    topics: z.array(z.string()).optional(),
    subject: z.string().optional(),
    dryRun: z.boolean(),
    createdAt: z.string(),
    deadline: z.string().meta({ description: 'After this, nothing more of the send goes out (it expires rather than go out stale).' }),
    startedAt: z.string().optional(),
    completedAt: z.string().optional(),
    counts: z.object(Object.fromEntries(COUNT_NAMES.map((c) => [c, z.number().int()])) as Record<(typeof COUNT_NAMES)[number], z.ZodNumber>),
    skippedBy: z.object(Object.fromEntries(SKIP_REASONS.map((r) => [r, z.number().int()])) as Record<SkipReason, z.ZodNumber>).meta({
      description:
        'Why the skipped recipients were skipped, one reason each: `nothingNew` (a digest with nothing since their last one), `topicsExcludeAll` (new articles, none on their topics), `unsubscribed`, `unconfirmed`, `paused`, `frequencyChanged`, `deleted`, and for confirmation sends `alreadyConfirmed` and `otherImport`.',
    }),
    reported: z.object(Object.fromEntries(REPORT_KINDS.map((k) => [k, z.number().int()])) as Record<ReportKind, z.ZodNumber>).meta({
      description:
        'What SES reported about the submitted messages, one count per recipient and kind (delivered; bounced hard or soft; complained; rejected by SES; delayed). Reports arrive after the send, some days later (complaints). Opens and clicks are not tracked.',
    }),
    progress: z.number().meta({ description: 'Share of planned recipients with an outcome, 0 to 1.' }),
    rate: z.number().optional().meta({ description: 'Recipients handled per second so far.' }),
    eta: z.string().optional().meta({ description: 'When the rest should be done at that rate.' }),
    errors: z.array(z.object({ code: z.string(), count: z.number().int(), message: z.string().optional() })),
    archiveUrl: z.string().optional().meta({ description: 'Digest: its public web archive page.' }),
  })
  .meta({ description: 'A send: its status, counts, progress and errors.' });
