import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { z } from '@hono/zod-openapi';
import { AppError, isAppError } from '../../core/errors.ts';
import type { RateLimiter } from '../../core/subscribers/ports.ts';
import { clientNetwork, emailRateKey, SUBSCRIBE_LIMITS, type SubscribeLimits } from '../../core/subscribers/subscribe-limits.ts';
import { FREQUENCIES, normalizeTopics, PreferencesInputSchema, SubscribeInputSchema, type Frequency, type Subscriber } from '../../core/subscribers/schema.ts';
import {
  confirmSubscription,
  getPreferences,
  peekConfirmation,
  resubscribe,
  subscribe,
  unsubscribe,
  unsubscribeTokenFor,
  updatePreferences,
  type SubscriberDeps,
} from '../../core/subscribers/use-cases.ts';
import { subscriberLinks } from '../../core/subscribers/links.ts';
import { fromZod, toErrorResponse } from '../errors.ts';
import { ErrorSchema, newRouter } from '../router.ts';
import type { PageRenderer, TopicChoice, TopicChoices } from '../pages.ts';

const FREQUENCY_LABELS: Record<Frequency, string> = {
  instant: 'Every article, as it is published',
  daily: 'A daily digest',
  weekly: 'A weekly digest',
};
const FREQUENCY_TEXT: Record<Frequency, string> = {
  instant: 'whenever we publish',
  daily: 'once a day, on days with new articles',
  weekly: 'once a week, in weeks with new articles',
};
const frequencies = FREQUENCIES.map((value) => ({ value, label: FREQUENCY_LABELS[value] }));

export interface SubscriberPageDeps {
  subscribers: SubscriberDeps;
  rateLimiter: RateLimiter;
  pages: PageRenderer;
  clientAddress: (c: Context) => string;
  /** Subscribe attempts per client network, per email address and site-wide; default {@link SUBSCRIBE_LIMITS}. */
  limits?: Partial<SubscribeLimits> | undefined;
  /**
   * Topics offered as checkboxes (tag slug and name), and the only ones the preference page accepts; a
   * subscriber's own topics are always shown. None: no topic boxes, every article.
   */
  topicChoices?: TopicChoices | undefined;
  log?: ((msg: string, detail: unknown) => void) | undefined;
  /**
   * The least time `POST /subscribe` takes to answer once the input is valid, so an address that is
   * already confirmed (no email sent, nothing written) cannot be told from a new one by timing.
   * Default {@link DEFAULT_SUBSCRIBE_MIN_MS}; set it above the usual time of a confirmation send.
   */
  subscribeMinMs?: number | undefined;
}

export const DEFAULT_SUBSCRIBE_MIN_MS = 400;

/** Runs `work`, then waits until at least `minMs` have passed since `started` (a thrown error waits too). */
async function atLeast<T>(started: number, minMs: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    const left = minMs - (performance.now() - started);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
}

const minutes = (seconds: number) => `${Math.ceil(seconds / 60)} minute${seconds > 60 ? 's' : ''}`;

/** Public page bodies are small forms; anything bigger is refused before it is read. */
export const MAX_FORM_BYTES = 16 * 1024;

const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Robots-Tag': 'noindex, nofollow',
};

const isJson = (c: Context) => /^application\/(.+\+)?json\s*(;|$)/i.test(c.req.header('content-type') ?? '');
const isForm = (c: Context) => /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i.test(c.req.header('content-type') ?? '');

/** A form body the parser could not read, as a 400 that says what was expected and what came. */
export function unreadableForm(contentType: string, body: string): AppError {
  const start = body.length === 0 ? 'an empty body' : `a body starting ${JSON.stringify(body.slice(0, 40))}`;
  if (/^multipart\/form-data/i.test(contentType)) {
    const boundary = /;\s*boundary=("?)([^";]+)\1/i.exec(contentType)?.[2];
    const expected = boundary
      ? `parts separated by the boundary "--${boundary}" named in Content-Type`
      : 'a Content-Type with a boundary parameter (multipart/form-data; boundary=…) and parts separated by it';
    return new AppError('request.invalid', `the form body is not valid multipart/form-data: expected ${expected}, received ${start}`);
  }
  return new AppError('request.invalid', `the form body is not valid application/x-www-form-urlencoded: received ${start}`);
}

const SubscribeAccepted = z.object({ accepted: z.literal(true), message: z.string() }).openapi('SubscribeAccepted');

const ERROR_HEADINGS: Record<string, string> = {
  'subscriber.tokenInvalid': 'This link does not work',
  'subscriber.tokenExpired': 'This link has expired',
  'subscriber.notFound': 'Subscription not found',
  'subscriber.suppressed': 'We cannot send to this address',
  'request.rateLimited': 'Too many attempts',
  'request.tooLarge': 'Too much data',
  'request.unsupportedMediaType': 'Unsupported request',
};

/**
 * The reader-facing routes (no key): subscribe (HTML form or JSON), confirm (GET shows a button, POST
 * confirms), preferences, and unsubscribe (GET shows a button; POST unsubscribes at once, including the
 * RFC 8058 one-click POST). Mount at `/`.
 */
export function subscriberPageRoutes(deps: SubscriberPageDeps) {
  const app = newRouter();
  const core = deps.subscribers;
  const publicUrl = core.site.publicUrl;
  const limits: SubscribeLimits = { ...SUBSCRIBE_LIMITS, ...(deps.limits ?? {}) };
  const minMs = deps.subscribeMinMs ?? DEFAULT_SUBSCRIBE_MIN_MS;
  const log = deps.log ?? core.log ?? ((m: string, d: unknown) => console.error(m, d));
  const paths = {
    subscribe: '/subscribe',
    checkInbox: '/subscribe/check-inbox',
    confirm: '/confirm',
    preferences: '/preferences',
    unsubscribe: '/unsubscribe',
  };

  const page = async (c: Context, name: string, data: Record<string, unknown>, status = 200, extra: Record<string, string> = {}) => {
    const html = await deps.pages.render(name, data);
    return c.html(html, status as 200, { ...PAGE_HEADERS, ...extra });
  };

  const errorPage = async (c: Context, e: AppError) => {
    if (e.status >= 500) log('subscriber page failed', { path: c.req.path, error: e.cause ?? e });
    const heading = ERROR_HEADINGS[e.code] ?? (e.status >= 500 ? 'Something went wrong' : 'This did not work');
    const message = e.status >= 500 ? 'Something went wrong on our side; please try again in a few minutes.' : e.message;
    const showSubscribe = e.code === 'subscriber.tokenExpired' || e.code === 'subscriber.tokenInvalid' || e.code === 'subscriber.notFound';
    return page(
      c,
      'error.liquid',
      { title: heading, heading, message, subscribeUrl: showSubscribe ? `${publicUrl}${paths.subscribe}` : '' },
      e.status,
      e.headers ?? {},
    );
  };

  app.onError(async (err, c) => {
    if (c.req.path === paths.subscribe && isJson(c)) return toErrorResponse(err, c, log);
    if (isAppError(err)) return errorPage(c, err);
    return errorPage(c, new AppError('internal.unexpected', 'unexpected error', { cause: err }));
  });

  const limit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: () => {
      throw new AppError('request.tooLarge', `the request body is larger than ${MAX_FORM_BYTES} bytes`);
    },
  });
  for (const p of [paths.subscribe, paths.confirm, paths.preferences, paths.unsubscribe]) app.post(p, limit);
  // The publisher's own site may subscribe readers with fetch() and JSON; no other origin may.
  app.use(paths.subscribe, cors({ origin: new URL(core.site.siteUrl).origin, allowMethods: ['POST'], allowHeaders: ['Content-Type'], maxAge: 600 }));

  const formValues = async (c: Context): Promise<Record<string, string | string[]>> => {
    if (!isForm(c)) throw new AppError('request.unsupportedMediaType', 'send the form as application/x-www-form-urlencoded or multipart/form-data');
    let body: Awaited<ReturnType<typeof c.req.parseBody>>;
    try {
      body = await c.req.parseBody({ all: true });
    } catch (e) {
      if (isAppError(e)) throw e;
      throw unreadableForm(c.req.header('content-type') ?? '', await c.req.text().catch(() => ''));
    }
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(body)) {
      if (typeof v === 'string') out[k] = v;
      else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
    }
    return out;
  };
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

  const tokenOf = async (c: Context, form?: Record<string, string | string[]>): Promise<string> => {
    const token = one(form?.token) ?? c.req.query('token');
    if (!token) throw new AppError('subscriber.tokenInvalid', 'this link is missing its token; use the link from your email as it is');
    return token;
  };

  const topicChoices = async (): Promise<TopicChoice[]> => (typeof deps.topicChoices === 'function' ? deps.topicChoices() : (deps.topicChoices ?? []));
  const topicList = async (checked: string[]) => {
    const choices = new Map((await topicChoices()).map((t) => [t.slug, t.name]));
    for (const t of checked) if (!choices.has(t)) choices.set(t, t);
    return [...choices].map(([slug, name]) => ({ slug, name, checked: checked.includes(slug) }));
  };

  // Counted per network first, so a flood from one network is refused before it uses up an address's or
  // the site's attempts; a refused attempt counts nowhere else.
  const rateLimit = async (c: Context, email: string) => {
    const now = core.clock.now();
    const checks = [
      {
        scope: 'subscribe-network',
        key: clientNetwork(deps.clientAddress(c)),
        limit: limits.perNetwork,
        says: (s: number) => `too many subscribe attempts from your network; try again in ${minutes(s)}`,
      },
      {
        scope: 'subscribe-email',
        key: emailRateKey(email),
        limit: limits.perEmail,
        says: (s: number) => `too many subscribe attempts for this email address; try again in ${minutes(s)}`,
      },
      {
        scope: 'subscribe-site',
        key: 'all',
        limit: limits.siteWide,
        says: (s: number) => `too many people are subscribing right now; try again in ${minutes(s)}`,
      },
    ];
    for (const check of checks) {
      const decision = await deps.rateLimiter.hit(check.scope, check.key, check.limit, now);
      if (!decision.allowed) {
        throw new AppError('request.rateLimited', check.says(decision.retryAfterSeconds), { headers: { 'Retry-After': String(decision.retryAfterSeconds) } });
      }
    }
  };

  // ---- Subscribe

  const subscribeForm = async (c: Context, values: Record<string, unknown> = {}, fieldErrors: Record<string, string> = {}, status = 200) =>
    page(
      c,
      'subscribe.liquid',
      {
        title: 'Subscribe',
        action: `${publicUrl}${paths.subscribe}`,
        values: { frequency: core.settings.defaultFrequency, ...values },
        frequencies,
        topics: await topicList(many(values.topics as string[] | undefined)),
        fieldErrors,
        errors: Object.entries(fieldErrors).map(([field, message]) => ({ field: field === 'topics' ? 'email' : field, message })),
      },
      status,
    );

  app.get(paths.subscribe, (c) => subscribeForm(c));

  app.post(paths.subscribe, async (c) => {
    const started = performance.now();
    const ACCEPTED = 'If the address can receive mail, a confirmation email is on its way: follow its link to confirm.';
    if (isJson(c)) {
      const raw = await c.req.json().catch(() => {
        throw new AppError('request.malformedJson', 'request body is not valid JSON');
      });
      const parsed = SubscribeInputSchema.safeParse(raw);
      if (!parsed.success) throw fromZod(parsed.error, 'body');
      await rateLimit(c, parsed.data.email);
      await atLeast(started, minMs, () => subscribe(core, parsed.data));
      return c.json({ accepted: true as const, message: ACCEPTED }, 202);
    }
    const form = await formValues(c);
    const values = {
      email: one(form.email) ?? '',
      name: one(form.name) ?? '',
      frequency: one(form.frequency) ?? core.settings.defaultFrequency,
      topics: many(form.topics),
    };
    // A bot filled the field people cannot see: answer as usual, do nothing.
    if ((one(form.website) ?? '') !== '') return c.redirect(`${publicUrl}${paths.checkInbox}`, 303);
    const parsed = SubscribeInputSchema.safeParse({
      email: values.email,
      ...(values.name.trim() ? { name: values.name } : {}),
      frequency: values.frequency,
      ...(values.topics.length ? { topics: values.topics } : {}),
    });
    if (!parsed.success) {
      const fieldErrors: Record<string, string> = {};
      for (const i of parsed.error.issues) {
        const field = String(i.path[0] ?? 'email');
        fieldErrors[field] ??= `${field === 'email' ? 'Email address' : field === 'name' ? 'Name' : field[0]!.toUpperCase() + field.slice(1)} ${i.message}`;
      }
      return subscribeForm(c, values, fieldErrors, 400);
    }
    await rateLimit(c, parsed.data.email);
    await atLeast(started, minMs, () => subscribe(core, parsed.data));
    return c.redirect(`${publicUrl}${paths.checkInbox}`, 303);
  });

  app.get(paths.checkInbox, (c) => page(c, 'check-inbox.liquid', { title: 'Check your inbox', subscribeUrl: `${publicUrl}${paths.subscribe}` }));

  app.openAPIRegistry.registerPath({
    method: 'post',
    path: paths.subscribe,
    tags: ['Subscribers (public)'],
    summary: 'Subscribe an email address (double opt-in)',
    description:
      'No key. As JSON: answers 202. As an HTML form (`application/x-www-form-urlencoded`, `topics` repeated): answers 303 to a "check your inbox" page. ' +
      'The answer is the same whether or not the address is known; a confirmation email is sent unless the address is already confirmed. ' +
      `Rate-limited per client network (IPv4 /24, IPv6 /64: ${SUBSCRIBE_LIMITS.perNetwork.max} per ${SUBSCRIBE_LIMITS.perNetwork.windowSeconds / 60} minutes), ` +
      `per email address (case and +tags folded: ${SUBSCRIBE_LIMITS.perEmail.max} per ${SUBSCRIBE_LIMITS.perEmail.windowSeconds / 60} minutes) and site-wide (${SUBSCRIBE_LIMITS.siteWide.max} per ${SUBSCRIBE_LIMITS.siteWide.windowSeconds / 60} minutes): ` +
      '429 with Retry-After (the HTML form gets a page saying when to try again).',
    request: { body: { content: { 'application/json': { schema: SubscribeInputSchema } }, required: true } },
    responses: {
      202: { description: 'Accepted', content: { 'application/json': { schema: SubscribeAccepted } } },
      400: { description: 'Invalid input', content: { 'application/json': { schema: ErrorSchema } } },
      429: {
        description: 'Too many attempts from this network, for this address, or on the whole site (the message says which); error code `request.rateLimited`.',
        headers: { 'Retry-After': { description: 'Seconds until the limit that was reached allows another attempt.', schema: { type: 'integer' } } },
        content: { 'application/json': { schema: ErrorSchema } },
      },
    },
  });

  // ---- Confirm: GET shows a button (a link scanner's GET confirms nothing), POST confirms.

  app.get(paths.confirm, async (c) => {
    const token = await tokenOf(c);
    await peekConfirmation(core, token);
    return page(c, 'confirm.liquid', { title: 'Confirm your subscription', action: `${publicUrl}${paths.confirm}`, token });
  });

  app.post(paths.confirm, async (c) => {
    const token = await tokenOf(c, await formValues(c));
    const { outcome, subscriber } = await confirmSubscription(core, token);
    const links = subscriberLinks(core.site, core.signer, subscriber.id, core.clock.now());
    return page(c, 'confirmed.liquid', {
      title: 'Subscribed',
      alreadyConfirmed: outcome === 'alreadyConfirmed',
      frequencyText: FREQUENCY_TEXT[subscriber.frequency],
      preferencesUrl: links.preferencesUrl,
    });
  });

  // ---- Preferences

  const preferencesPage = async (
    c: Context,
    token: string,
    s: Subscriber,
    flags: { saved?: boolean; resubscribed?: boolean; errors?: string[] } = {},
    status = 200,
  ) =>
    page(
      c,
      'preferences.liquid',
      {
        title: 'Email preferences',
        action: `${publicUrl}${paths.preferences}`,
        unsubscribeAction: `${publicUrl}${paths.unsubscribe}`,
        subscribeUrl: `${publicUrl}${paths.subscribe}`,
        token,
        unsubscribeToken: unsubscribeTokenFor(core, s.id),
        subscriber: { email: s.email, status: s.status, frequency: s.frequency, paused: s.paused },
        frequencies,
        topics: await topicList(s.topics),
        saved: flags.saved ?? false,
        resubscribed: flags.resubscribed ?? false,
        errors: flags.errors ?? [],
      },
      status,
    );

  app.get(paths.preferences, async (c) => {
    const token = await tokenOf(c);
    const s = await getPreferences(core, token);
    return preferencesPage(c, token, s, { saved: c.req.query('saved') === '1', resubscribed: c.req.query('resubscribed') === '1' });
  });

  app.post(paths.preferences, async (c) => {
    const form = await formValues(c);
    const token = await tokenOf(c, form);
    const back = (flag: string) => c.redirect(`${publicUrl}${paths.preferences}?token=${encodeURIComponent(token)}&${flag}=1`, 303);
    if (one(form.action) === 'resubscribe') {
      await resubscribe(core, token);
      return back('resubscribed');
    }
    const more = (one(form.moreTopics) ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const parsed = PreferencesInputSchema.safeParse({
      frequency: one(form.frequency),
      topics: normalizeTopics([...many(form.topics), ...more]),
      paused: one(form.paused) === 'true',
    });
    if (!parsed.success) {
      const s = await getPreferences(core, token);
      return preferencesPage(c, token, s, { errors: [fromZod(parsed.error, 'body').message] }, 400);
    }
    // Only the site's topics (and those the subscriber already has), so no one follows a tag no article has.
    const current = await getPreferences(core, token);
    const known = new Set([...(await topicChoices()).map((t) => t.slug), ...current.topics]);
    const unknown = (parsed.data.topics ?? []).filter((t) => !known.has(t));
    if (unknown.length) {
      const list = unknown.map((t) => `\u201c${t}\u201d`).join(', ');
      return preferencesPage(
        c,
        token,
        current,
        { errors: [`${list} ${unknown.length > 1 ? 'are not topics' : 'is not a topic'} of ${core.site.title}: choose from the list.`] },
        400,
      );
    }
    await updatePreferences(core, token, parsed.data);
    return back('saved');
  });

  // ---- Unsubscribe: GET shows one button; POST unsubscribes at once (RFC 8058 one-click included).

  app.get(paths.unsubscribe, async (c) => {
    const token = await tokenOf(c);
    const { subscriberId } = core.signer.verify(token, 'unsubscribe', core.clock.now());
    // The address the link is about (none when the subscriber was erased), so the reader knows which one leaves.
    const email = (await core.subscribers.get(subscriberId))?.email ?? '';
    return page(c, 'unsubscribe.liquid', { title: 'Unsubscribe', action: `${publicUrl}${paths.unsubscribe}`, token, email });
  });

  app.post(paths.unsubscribe, async (c) => {
    // RFC 8058: the token is in the URL and the body is `List-Unsubscribe=One-Click`; our own page sends it as a field.
    const form = isForm(c) ? await formValues(c) : {};
    const token = await tokenOf(c, form);
    const { outcome, subscriber } = await unsubscribe(core, token);
    const { subscriberId } = core.signer.verify(token, 'unsubscribe', core.clock.now());
    const preferencesUrl = outcome === 'unknown' ? '' : subscriberLinks(core.site, core.signer, subscriberId, core.clock.now()).preferencesUrl;
    return page(c, 'unsubscribed.liquid', { title: 'Unsubscribed', preferencesUrl, email: subscriber?.email ?? '' });
  });

  return app;
}
