import { createHash } from 'node:crypto';
import * as z from 'zod';
import { slugify } from '../articles/slug.ts';
import { emailAddressProblem, isHeaderText } from '../email/message.ts';

/** Limits stated in the API and README. */
export const SUBSCRIBER_LIMITS = {
  emailChars: 254,
  nameChars: 100,
  topics: 20,
  topicChars: 60,
} as const;

export const SubscriberStatusSchema = z.enum(['pending', 'confirmed', 'unsubscribed', 'suppressed']);
/**
 * - `pending`: asked to subscribe, has not confirmed (gets the confirmation email only).
 * - `confirmed`: receives newsletter mail at its frequency unless paused.
 * - `unsubscribed`: asked to stop; gets nothing until it subscribes and confirms anew.
 * - `suppressed`: a hard bounce, a complaint or too many soft bounces; gets nothing.
 */
export type SubscriberStatus = z.infer<typeof SubscriberStatusSchema>;
export const SUBSCRIBER_STATUSES = SubscriberStatusSchema.options;

export const FrequencySchema = z.enum(['instant', 'daily', 'weekly']);
export type Frequency = z.infer<typeof FrequencySchema>;
export const FREQUENCIES = FrequencySchema.options;

/** Why an address is on the suppression list. */
export type SuppressionReason = 'bounce' | 'softBounces' | 'complaint' | 'erased';

const LINE_BREAK = /[\r\n\u2028\u2029\u0085]/;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/**
 * One addr-spec, as the mailer accepts it: no display name, no comments, no whitespace, a dot in the
 * domain. Stricter than RFC 5322 on purpose: what we accept here, the Mailer must be able to send.
 */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/;

/** An email address as given, trimmed; refused with a message that says what is wrong. */
export const EmailSchema = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(SUBSCRIBER_LIMITS.emailChars, `must be at most ${SUBSCRIBER_LIMITS.emailChars} characters`)
  .refine((s) => !LINE_BREAK.test(s) && !CONTROL.test(s), { error: 'must not contain line breaks or control characters', abort: true })
  .refine((s) => ADDRESS.test(s), { error: 'must be an email address like name@example.com', abort: true })
  // The mailer's own rule: ASCII local part, IDN domain allowed, no bidi controls or U+FFFD.
  .refine((s) => emailAddressProblem(s) === undefined, {
    error: (iss) => emailAddressProblem(String(iss.input)) ?? 'must be an email address like name@example.com',
  })
  .meta({ description: 'The subscriber\u2019s email address.', example: 'ada@example.com' });

/** A display name: one line, no control characters (it ends up in a `To:` header). */
export const NameSchema = z
  .string()
  .max(SUBSCRIBER_LIMITS.nameChars * 4)
  .refine((s) => !LINE_BREAK.test(s), { error: 'must be one line (no CR or LF)', abort: true })
  .refine((s) => !CONTROL.test(s), { error: 'must not contain control characters', abort: true })
  // The mailer's own rule too (the name is in the To: header): what is accepted here can be sent.
  .refine(isHeaderText, 'must be one line without control characters')
  .transform((s) => s.replace(/\s+/g, ' ').trim())
  .refine((s) => s.length <= SUBSCRIBER_LIMITS.nameChars, `must be at most ${SUBSCRIBER_LIMITS.nameChars} characters`)
  .meta({ description: 'Optional display name, one line.', example: 'Ada Lovelace' });

/** Topics are tag slugs; any tag name is accepted and slugified, duplicates dropped. */
export const TopicsSchema = z
  .array(
    z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(SUBSCRIBER_LIMITS.topicChars)
      .refine((s) => !LINE_BREAK.test(s) && !CONTROL.test(s), 'must be one line without control characters')
      .refine((t) => /[\p{L}\p{N}]/u.test(t), 'must contain a letter or digit'),
  )
  .max(SUBSCRIBER_LIMITS.topics, `at most ${SUBSCRIBER_LIMITS.topics} topics`)
  .transform(normalizeTopics)
  .meta({ description: 'Tag slugs (or tag names, slugified) to receive; empty means every article.', example: ['politics', 'science'] });

export function normalizeTopics(topics: string[]): string[] {
  return [...new Set(topics.map((t) => slugify(t, SUBSCRIBER_LIMITS.topicChars)))];
}

/** `POST /subscribe` as JSON (the HTML form sends the same fields, `topics` repeated). */
export const SubscribeInputSchema = z
  .object({
    email: EmailSchema,
    name: NameSchema.optional(),
    frequency: FrequencySchema.optional().meta({ description: 'How often to receive mail; the site\u2019s default when absent.' }),
    topics: TopicsSchema.optional(),
  })
  .strict();
export type SubscribeInput = z.infer<typeof SubscribeInputSchema>;

/** What a subscriber may change on the preference page. */
export const PreferencesInputSchema = z
  .object({
    frequency: FrequencySchema,
    topics: TopicsSchema,
    paused: z.boolean(),
  })
  .strict();
export type PreferencesInput = z.infer<typeof PreferencesInputSchema>;

/** A subscriber as stored. Attribute names are a contract with the delivery engine. */
export interface Subscriber {
  id: string;
  /** As given, trimmed. */
  email: string;
  /** sha256 hex of the lower-cased address: see {@link emailHash}. */
  emailHash: string;
  name?: string | undefined;
  status: SubscriberStatus;
  frequency: Frequency;
  /** Tag slugs; empty means every article. */
  topics: string[];
  paused: boolean;
  createdAt: string;
  confirmedAt?: string | undefined;
  updatedAt: string;
  unsubscribedAt?: string | undefined;
  /** Transient bounces since the last delivery; past the threshold the subscriber is suppressed. */
  softBounces: number;
  suppressedReason?: SuppressionReason | undefined;
  /** When the delivery engine last sent each digest, on items from before it kept them in their own item (read only). */
  lastDigestAt?: { daily?: string; weekly?: string } | undefined;
  /** How the subscriber came: the public form, or a publisher import (with or without asserted consent). */
  source: 'form' | 'import';
  /** The import that created this subscriber, or last found them pending, when it asked them to confirm. */
  importId?: string | undefined;
  /** Optimistic-lock counter, incremented on every write. */
  version: number;
}

/** The hash that identifies an address without storing it: sha256 hex of the trimmed, lower-cased address. */
export function emailHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex');
}

/** True when the subscriber belongs in the sending audience (GSI2). */
export function inAudience(s: Pick<Subscriber, 'status' | 'paused'>): boolean {
  return s.status === 'confirmed' && !s.paused;
}

export const SubscriberOutputSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().optional(),
    status: SubscriberStatusSchema,
    frequency: FrequencySchema,
    topics: z.array(z.string()),
    paused: z.boolean(),
    createdAt: z.string(),
    confirmedAt: z.string().optional(),
    updatedAt: z.string(),
    source: z.enum(['form', 'import']),
    suppressedReason: z.enum(['bounce', 'softBounces', 'complaint', 'erased']).optional(),
  })
  .meta({ description: 'A subscriber.' });
export type SubscriberOutput = z.infer<typeof SubscriberOutputSchema>;

export function toSubscriberOutput(s: Subscriber): SubscriberOutput {
  return {
    id: s.id,
    email: s.email,
    ...(s.name ? { name: s.name } : {}),
    status: s.status,
    frequency: s.frequency,
    topics: s.topics,
    paused: s.paused,
    createdAt: s.createdAt,
    ...(s.confirmedAt ? { confirmedAt: s.confirmedAt } : {}),
    updatedAt: s.updatedAt,
    source: s.source,
    ...(s.suppressedReason ? { suppressedReason: s.suppressedReason } : {}),
  };
}
