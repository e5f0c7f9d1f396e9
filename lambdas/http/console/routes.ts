import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { RateLimit, RateLimiter } from '../../core/subscribers/ports.ts';
import { clientNetwork } from '../../core/subscribers/subscribe-limits.ts';
import type { Clock } from '../../core/clock.ts';
import type { SiteConfig } from '../../core/site.ts';
import type { Article } from '../../core/articles/schema.ts';
import { deriveSummary, renderArticleBody } from '../../core/articles/content.ts';
import type { EmailRenderer } from '../../core/email/templates.ts';
import { SiteRenderer } from '../../core/site/render.ts';
import { escapeHtml } from '../../core/html.ts';
import {
  csrfToken,
  csrfValid,
  issueSession,
  readSession,
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  SESSION_HOURS,
  sessionKey,
  type Session,
  type SessionRevocations,
} from './session.ts';
import type { PageRenderer } from '../pages.ts';
import type { DocumentReader } from '../../core/feeds/ports.ts';
import type { ConsoleSettings } from './settings.ts';

/** Wrong (and right) keys a client network may try per window before sign-in answers 429. */
export const SIGN_IN_LIMIT: RateLimit = { max: 10, windowSeconds: 15 * 60 };
/** The largest form the console takes (an article body is at most 512 KB; a CSV import is larger). */
const FORM_BYTES = 1024 * 1024;
const IMPORT_BYTES = 20 * 1024 * 1024;

export interface ConsoleDeps {
  /** The publisher API keys in force; the first one makes the console's own API calls. */
  keys: () => Promise<string[]>;
  /**
   * The app itself, called in process (no socket): the console does everything through the publisher
   * API, so it has exactly the API's validation, errors and behaviour.
   */
  api: (req: Request) => Response | Promise<Response>;
  pages: PageRenderer;
  rateLimiter: RateLimiter;
  /** Sessions ended by signing out. */
  revocations: SessionRevocations;
  clientAddress: (c: Context) => string;
  clock: Clock;
  site: SiteConfig;
  /** Read-only configuration for the settings page (site, mail, SES quota, DNS). */
  settings: () => Promise<ConsoleSettings>;
  /** The generated documents, to show each feed's last rebuild (absent: asked of the public address with HEAD). */
  documents?: DocumentReader | undefined;
  /** Renders the email of an article being edited (the live preview); absent, only the saved version is shown. */
  emails?: EmailRenderer | undefined;
  /** Where our own script and the chart library are read from. */
  assetsDir: string;
  signInLimit?: RateLimit | undefined;
}

/** An API answer as JSON: the templates read its fields as the OpenAPI document describes them. */
// biome-ignore lint/suspicious/noExplicitAny: the API's JSON is passed to Liquid templates, which read it untyped
type ApiBody = any;
type ApiResult = { status: number; ok: boolean; body: ApiBody };
type Vars = { Variables: { session: Session; sessionKey: Buffer; csrf: string } };

const requireFrom = createRequire(import.meta.url);

/** The chart library's file from the installed package; a bundled function has it copied beside its templates instead. */
const packaged = (file: string) => (dir: string) => {
  try {
    return requireFrom.resolve(`uplot/dist/${file}`);
  } catch {
    return join(dir, 'uplot', file);
  }
};

const ASSETS: Record<string, { type: string; file: (dir: string) => string }> = {
  'console.js': { type: 'text/javascript; charset=utf-8', file: (dir) => join(dir, 'console.js') },
  'uplot.js': { type: 'text/javascript; charset=utf-8', file: packaged('uPlot.iife.min.js') },
  'uplot.css': { type: 'text/css; charset=utf-8', file: packaged('uPlot.min.css') },
};

const TERMINAL_SEND = new Set(['completed', 'cancelled', 'expired', 'failed', 'paused']);

/**
 * The publisher's console at `/admin/` (mounted at `/`, its paths its own): server-rendered pages over the publisher API, with one small
 * script for live previews, send progress and the growth chart. Every page but sign-in needs the session
 * cookie; every POST needs the session's CSRF token and a same-origin request.
 */
export function consoleRoutes(deps: ConsoleDeps) {
  const app = new Hono<Vars>();
  const limit = deps.signInLimit ?? SIGN_IN_LIMIT;
  const publicOrigin = new URL(deps.site.publicUrl).origin;

  const secure = (c: Context) => new URL(c.req.url).protocol === 'https:' || publicOrigin.startsWith('https:') || c.req.header('x-forwarded-proto') === 'https';
  const cookieName = (c: Context) => (secure(c) ? SECURE_SESSION_COOKIE : SESSION_COOKIE);
  const keyBuffers = async () => (await deps.keys()).filter(Boolean).map(sessionKey);

  const render = async (c: Context, name: string, data: Record<string, unknown>, status = 200) => {
    c.header('Cache-Control', 'no-store');
    return c.html(
      await deps.pages.render(name, { csrf: c.get('csrf'), signedIn: Boolean(c.get('session')), publicUrl: deps.site.publicUrl, ...data }),
      status as 200,
    );
  };

  const api = async (method: string, path: string, body?: unknown): Promise<ApiResult> => {
    const [key] = await deps.keys();
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await deps.api(new Request(`${publicOrigin}/api${path}`, { method, headers, body: payload }));
    const text = res.status === 204 ? '' : await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, ok: res.ok, body: parsed };
  };
  /** The API's error as one line for the page. */
  const problem = (r: ApiResult) => {
    const e = r.body?.error;
    if (!e) return `the API answered ${r.status}`;
    const issues =
      Array.isArray(e.issues) && e.issues.length
        ? `: ${e.issues.map((i: { path: string; message: string }) => `${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ')}`
        : '';
    return `${e.message}${issues && !String(e.message).includes(issues.slice(2)) ? issues : ''}`;
  };
  const need = (r: ApiResult) => {
    if (!r.ok) throw new ConsoleError(r.status, problem(r));
    return r.body;
  };

  app.onError(async (err, c) => {
    if (err instanceof ConsoleError) return render(c, 'error', { title: 'Something went wrong', message: err.message }, err.status);
    console.error('console error', err);
    return render(c, 'error', { title: 'Something went wrong', message: 'The console could not do that. Try again; the server log has the details.' }, 500);
  });

  // Static assets: immutable per version, so browsers keep them; our own script is small.
  app.get('/admin/assets/:name', async (c) => {
    const asset = ASSETS[c.req.param('name')];
    if (!asset) return c.text('not found', 404);
    const body = await readFile(asset.file(deps.assetsDir));
    return c.body(new Uint8Array(body), 200, { 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=86400', 'X-Content-Type-Options': 'nosniff' });
  });

  // Cross-site requests never change anything: the browser tells us where a request comes from.
  app.use('/admin/*', async (c, next) => {
    c.header('X-Frame-Options', 'DENY');
    c.header('Referrer-Policy', 'same-origin');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    );
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const site = c.req.header('sec-fetch-site');
      const origin = c.req.header('origin');
      const own = new Set([new URL(c.req.url).origin, publicOrigin]);
      if ((site && site !== 'same-origin' && site !== 'none') || (origin !== undefined && !own.has(origin))) {
        return render(c, 'error', { title: 'Refused', message: 'This request came from another site, so the console refused it.' }, 403);
      }
    }
    return next();
  });

  app.get('/admin', (c) => c.redirect('/admin/', 301));

  /** The request's session: signed by a current key, not expired, not signed out. */
  const checked = new WeakMap<Request, Promise<{ session: Session; key: Buffer } | undefined>>();
  const currentSession = (c: Context) => {
    // Asked twice for the dashboard (sign-in form or not, then the session guard): looked up once.
    let found = checked.get(c.req.raw);
    if (!found) {
      found = (async () => {
        const read = readSession(getCookie(c, cookieName(c)), await keyBuffers(), deps.clock.now().getTime());
        return read && !(await deps.revocations.isRevoked(read.session.nonce)) ? read : undefined;
      })();
      checked.set(c.req.raw, found);
    }
    return found;
  };

  app.get('/admin/', async (c, next) => {
    if (await currentSession(c)) return next();
    return render(c, 'sign-in', { title: 'Sign in', signedOut: c.req.query('signed-out') !== undefined });
  });

  app.post('/admin/sign-in', bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text('too large', 413) }), async (c) => {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const key = typeof form.key === 'string' ? form.key.trim() : '';
    // Every attempt counts, so a guesser is stopped whether or not a guess was right.
    const decision = await deps.rateLimiter.hit('console-sign-in', clientNetwork(deps.clientAddress(c)), limit, deps.clock.now());
    if (!decision.allowed) {
      c.header('Retry-After', String(decision.retryAfterSeconds));
      return render(
        c,
        'sign-in',
        { title: 'Sign in', error: `Too many sign-in attempts from your network. Try again in ${Math.ceil(decision.retryAfterSeconds / 60)} minutes.` },
        429,
      );
    }
    const keys = await deps.keys();
    if (!key || key.length > 512 || !keys.includes(key)) {
      return render(c, 'sign-in', { title: 'Sign in', error: 'That API key is not right.' }, 401);
    }
    const { value } = issueSession(sessionKey(key), deps.clock.now().getTime());
    setCookie(c, cookieName(c), value, { httpOnly: true, secure: secure(c), sameSite: 'Strict', path: '/', maxAge: SESSION_HOURS * 3600 });
    return c.redirect('/admin/', 303);
  });

  // Everything below needs a session; POSTs also need its CSRF token.
  app.use('/admin/*', async (c, next) => {
    const found = await currentSession(c);
    const wantsJson = c.req.path.endsWith('.json') || (c.req.header('accept') ?? '').startsWith('application/json');
    if (!found) {
      if (wantsJson) return c.json({ error: { code: 'console.signedOut', message: 'sign in again' } }, 401);
      if (c.req.method === 'GET') return c.redirect('/admin/', 303);
      return render(c, 'sign-in', { title: 'Sign in', error: 'Your session has ended. Sign in again.' }, 401);
    }
    c.set('session', found.session);
    c.set('sessionKey', found.key);
    c.set('csrf', csrfToken(found.key, found.session));
    if (c.req.method === 'POST') {
      const type = c.req.header('content-type') ?? '';
      const limitBytes = c.req.path === '/admin/subscribers/import' ? IMPORT_BYTES : FORM_BYTES;
      if (Number(c.req.header('content-length') ?? 0) > limitBytes) throw new ConsoleError(413, `That is too large: at most ${limitBytes / 1024 / 1024} MB.`);
      let token: string | undefined;
      if (/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
        let form: Record<string, unknown>;
        try {
          form = await c.req.parseBody();
        } catch {
          throw new ConsoleError(400, 'The form could not be read. Reload the page and try again.');
        }
        token = typeof form._csrf === 'string' ? form._csrf : undefined;
      } else {
        token = c.req.header('x-csrf-token');
      }
      if (!csrfValid(found.key, found.session, token)) {
        return render(
          c,
          'error',
          { title: 'Refused', message: 'The form had expired or was not from this console. Go back, reload the page and try again.' },
          403,
        );
      }
    }
    return next();
  });

  app.post('/admin/sign-out', async (c) => {
    const session = c.get('session');
    // Ended on the server too: a copy of the cookie is refused from now on.
    await deps.revocations.revoke(session.nonce, new Date(session.exp));
    deleteCookie(c, cookieName(c), { path: '/', secure: secure(c) });
    return c.redirect('/admin/?signed-out', 303);
  });

  const form = async (c: Context) => (await c.req.parseBody()) as Record<string, string | File>;
  const str = (v: unknown) => (typeof v === 'string' ? v : '');

  // Dashboard
  app.get('/admin/', async (c) => {
    const days = c.req.query('days') === '90' ? 90 : 30;
    const [counts, growth, sends] = await Promise.all([
      api('GET', '/subscribers/counts'),
      api('GET', `/subscribers/growth?days=${days}`),
      api('GET', '/sends?limit=10'),
    ]);
    const feeds = await Promise.all(
      ['/feed.xml', '/atom.xml', '/feed.json'].map(async (path) => {
        const url = `${deps.site.publicUrl}${path}`;
        if (deps.documents) {
          const doc = await deps.documents.get(path).catch(() => undefined);
          return { url, rebuiltAt: doc?.lastModified.toISOString() };
        }
        // In AWS the documents are in the feed bucket behind CloudFront: ask it, as a reader would.
        const head = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(2000) }).catch(() => undefined);
        const modified = head?.ok ? Date.parse(head.headers.get('last-modified') ?? '') : NaN;
        return { url, rebuiltAt: Number.isNaN(modified) ? undefined : new Date(modified).toISOString() };
      }),
    );
    const g = need(growth);
    return render(c, 'dashboard', {
      title: 'Dashboard',
      nav: 'dashboard',
      counts: need(counts),
      growth: g,
      growthJson: JSON.stringify({
        dates: g.items.map((d: { date: string }) => d.date),
        confirmed: g.items.map((d: { confirmed: number }) => d.confirmed),
        unsubscribed: g.items.map((d: { unsubscribed: number }) => -d.unsubscribed),
        suppressed: g.items.map((d: { suppressed: number }) => -d.suppressed),
        erased: g.items.map((d: { erased: number }) => -d.erased),
        net: g.items.map((d: { net: number }) => d.net),
      }),
      days,
      sends: need(sends).items,
      feeds,
      chart: true,
    });
  });

  // Articles
  const renderer = new SiteRenderer(deps.site);
  app.get('/admin/articles', async (c) => {
    const q = (c.req.query('q') ?? '').trim().toLowerCase().slice(0, 200);
    const status = c.req.query('status');
    const items: Article[] = [];
    let cursor: string | null = null;
    // A publisher's list is read a few pages at a time; search looks through the newest 500.
    do {
      const page: { items: Article[]; next: string | null } = need(
        await api(
          'GET',
          `/articles?limit=100${status && ['draft', 'published', 'scheduled'].includes(status) ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        ),
      );
      items.push(...page.items);
      cursor = page.next;
    } while (cursor && q && items.length < 500);
    const found = q
      ? items.filter((a) => a.title.toLowerCase().includes(q) || a.slug.includes(q) || a.tags.some((t) => t.name.toLowerCase().includes(q)))
      : items;
    return render(c, 'articles', { title: 'Articles', nav: 'articles', articles: found, q, status });
  });

  app.get('/admin/articles/new', (c) =>
    render(c, 'editor', { title: 'New article', nav: 'articles', article: { bodyFormat: 'markdown', body: '', title: '', tags: [] }, isNew: true }),
  );

  const editorData = async (id: string, extra: Record<string, unknown> = {}) => {
    const article = need(await api('GET', `/articles/${encodeURIComponent(id)}`));
    return { title: `Edit: ${article.title}`, nav: 'articles', article, tagsText: article.tags.map((t: { name: string }) => t.name).join(', '), ...extra };
  };

  /** Headers of a preview shown in the console's own sandboxed frame. */
  const framed = (c: Context) => {
    c.header('X-Frame-Options', 'SAMEORIGIN');
    c.header(
      'Content-Security-Policy',
      "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; font-src https: data:; frame-ancestors 'self'; sandbox",
    );
    c.header('Cache-Control', 'no-store');
  };

  // The saved article's page and email, for the editor's preview frames.
  app.get('/admin/articles/:id/page', async (c) => {
    const article = need(await api('GET', `/articles/${encodeURIComponent(c.req.param('id'))}`)) as Article;
    framed(c);
    return c.html(renderer.article({ article: { ...article, summaryDerived: false, urlDerived: false } }));
  });
  app.get('/admin/articles/:id/email', async (c) => {
    const r = await api('POST', '/sends/preview', { kind: 'article', articleId: c.req.param('id') });
    framed(c);
    if (!r.ok) return c.html(`<!doctype html><html lang="en"><title>Email preview</title><p>${escapeHtml(problem(r))}</p></html>`);
    return c.html(r.body.html);
  });

  app.get('/admin/articles/:id', async (c) => render(c, 'editor', { ...(await editorData(c.req.param('id'))), saved: c.req.query('saved') }));

  /** The article fields the form carries; a field the form does not have is left as it is. */
  const articleInput = (f: Record<string, unknown>) => {
    const input: Record<string, unknown> = {};
    if ('title' in f) input.title = str(f.title);
    if ('body' in f) input.body = str(f.body);
    if ('bodyFormat' in f) input.bodyFormat = str(f.bodyFormat) === 'html' ? 'html' : 'markdown';
    if ('tags' in f)
      input.tags = str(f.tags)
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    if (str(f.summary).trim()) input.summary = str(f.summary).trim();
    return input;
  };
  const scheduleAt = (f: Record<string, unknown>) => {
    const v = str(f.publishAt).trim();
    if (!v) throw new ConsoleError(400, 'Choose when to publish (date and time, UTC) to schedule.');
    const at = new Date(/Z|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
    if (Number.isNaN(at.getTime())) throw new ConsoleError(400, `"${v}" is not a date and time.`);
    return at.toISOString();
  };

  app.post('/admin/articles', async (c) => {
    const f = await form(c);
    const action = str(f.action);
    const input = articleInput(f);
    if (action === 'publish') input.status = 'published';
    else if (action === 'schedule') Object.assign(input, { status: 'scheduled', publishAt: scheduleAt(f) });
    else input.status = 'draft';
    const r = await api('POST', '/articles', input);
    if (!r.ok)
      return render(
        c,
        'editor',
        { title: 'New article', nav: 'articles', article: { ...input, tags: [] }, tagsText: str(f.tags), isNew: true, error: problem(r) },
        r.status,
      );
    return c.redirect(`/admin/articles/${r.body.id}?saved=${action || 'draft'}`, 303);
  });

  app.post('/admin/articles/:id', async (c) => {
    const id = c.req.param('id');
    const f = await form(c);
    const action = str(f.action);
    let r: ApiResult;
    if (action === 'delete') {
      r = await api('DELETE', `/articles/${encodeURIComponent(id)}`);
      if (r.ok) return c.redirect('/admin/articles?deleted=1', 303);
    } else if (action === 'unpublish') {
      r = await api('PATCH', `/articles/${encodeURIComponent(id)}`, { status: 'draft', publishAt: null });
    } else if (action === 'test') {
      const address = str(f.testAddress).trim();
      r = await api('POST', '/sends/test', { kind: 'article', articleId: id, addresses: [address] });
      if (r.ok) {
        const result = r.body.results?.[0];
        return render(
          c,
          'editor',
          await editorData(id, result?.error ? { error: `The test to ${address} failed: ${result.error}` } : { notice: `A test email went to ${address}.` }),
        );
      }
    } else {
      const patch = articleInput(f);
      if (action === 'publish') patch.status = 'published';
      else if (action === 'schedule') Object.assign(patch, { status: 'scheduled', publishAt: scheduleAt(f) });
      r = await api('PATCH', `/articles/${encodeURIComponent(id)}`, patch);
    }
    if (!r.ok) {
      if (r.status === 404) throw new ConsoleError(404, problem(r));
      return render(c, 'editor', await editorData(id, { error: problem(r) }), r.status);
    }
    return c.redirect(`/admin/articles/${encodeURIComponent(id)}?saved=${action || 'save'}`, 303);
  });

  // Live preview: the article page as the site would render it, and its email, from the form as it stands (nothing saved).
  const draftFrom = (f: Record<string, unknown>): Article => {
    const input: Record<string, unknown> = { bodyFormat: 'markdown', tags: [], ...articleInput(f) };
    const now = deps.clock.now().toISOString();
    let content: { body: string; contentHtml: string };
    try {
      content = renderArticleBody(str(input.body) || ' ', input.bodyFormat as 'markdown' | 'html', deps.site.siteUrl);
    } catch (e) {
      throw new ConsoleError(400, `The body could not be rendered: ${e instanceof Error ? e.message : String(e)}`);
    }
    return {
      id: 'preview',
      slug: 'preview',
      title: str(input.title) || 'Untitled',
      bodyFormat: input.bodyFormat as 'markdown' | 'html',
      body: content.body,
      contentHtml: content.contentHtml,
      summary: str(input.summary) || deriveSummary(content.contentHtml),
      summaryDerived: !input.summary,
      authors: [],
      tags: (input.tags as string[]).map((name) => ({ name, slug: name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-') })),
      url: `${deps.site.siteUrl}/articles/preview/`,
      urlDerived: true,
      status: 'draft',
      publishedAt: now,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
  };
  app.post('/admin/preview/article', async (c) => {
    const article = draftFrom(await form(c));
    framed(c);
    return c.html(renderer.article({ article }));
  });
  app.post('/admin/preview/article-email', async (c) => {
    if (!deps.emails) throw new ConsoleError(404, 'The email preview is not available here.');
    const a = draftFrom(await form(c));
    const email = await deps.emails.render('article', {
      article: { title: a.title, url: a.url, contentHtml: a.contentHtml, summary: a.summary, publishedAt: a.publishedAt },
      // A sample recipient's links, as the API's preview shows them.
      recipient: { unsubscribeUrl: `${deps.site.publicUrl}/unsubscribe`, preferencesUrl: `${deps.site.publicUrl}/preferences` },
    });
    framed(c);
    return c.html(email.html);
  });

  // The email an article or a send would be, rendered by the API.
  app.post('/admin/preview/email', async (c) => {
    const f = await form(c);
    const body = sendInput(f);
    const r = await api('POST', '/sends/preview', body);
    framed(c);
    if (!r.ok) return c.html(`<!doctype html><html lang="en"><title>Preview</title><p>${escapeHtml(problem(r))}</p></html>`, r.status as 400);
    return c.html(r.body.html);
  });

  // Subscribers
  app.get('/admin/subscribers', async (c) => {
    const email = (c.req.query('email') ?? '').trim();
    let found: unknown[] | undefined;
    let error: string | undefined;
    if (email) {
      const r = await api('GET', `/subscribers?email=${encodeURIComponent(email)}`);
      if (r.ok) found = r.body.items;
      else error = problem(r);
    }
    return render(
      c,
      'subscribers',
      {
        title: 'Subscribers',
        nav: 'subscribers',
        email,
        found,
        error,
        erased: c.req.query('erased') !== undefined,
        counts: need(await api('GET', '/subscribers/counts')),
      },
      error ? 400 : 200,
    );
  });

  app.get('/admin/subscribers/:id', async (c) => {
    const id = c.req.param('id');
    if (!/^[a-z0-9]{1,64}$/.test(id)) throw new ConsoleError(400, 'That is not a subscriber id.');
    const older = c.req.query('older');
    const [s, history] = await Promise.all([
      api('GET', `/subscribers/${id}`),
      api('GET', `/subscribers/${id}/sends?limit=25${older ? `&cursor=${encodeURIComponent(older)}` : ''}`),
    ]);
    const subscriber = need(s);
    const page = need(history);
    return render(c, 'subscriber', { title: subscriber.email, nav: 'subscribers', subscriber, history: page.items, older: page.next, paged: Boolean(older) });
  });

  app.post('/admin/subscribers/:id/erase', async (c) => {
    const id = c.req.param('id');
    need(await api('DELETE', `/subscribers/${encodeURIComponent(id)}`));
    return c.redirect('/admin/subscribers?erased', 303);
  });

  app.post('/admin/subscribers/export', async (c) => {
    const job = need(await api('POST', '/subscribers/exports'));
    return c.redirect(`/admin/jobs/exports/${encodeURIComponent(job.id)}`, 303);
  });

  app.post('/admin/subscribers/import', async (c) => {
    const f = await form(c);
    const file = f.file;
    if (!(file instanceof File) || file.size === 0) throw new ConsoleError(400, 'Choose a CSV file to import.');
    const consent = str(f.consent) === 'confirmed' ? 'confirmed' : 'none';
    const sendConfirmation = consent === 'none' && str(f.sendConfirmation) === 'true';
    const job = need(await api('POST', `/subscribers/imports?consent=${consent}&sendConfirmation=${sendConfirmation}`));
    const put = await fetch(job.upload.url, { method: 'PUT', body: new Uint8Array(await file.arrayBuffer()), headers: job.upload.headers });
    if (!put.ok) throw new ConsoleError(502, `The file could not be uploaded (${put.status}).`);
    return c.redirect(`/admin/jobs/imports/${encodeURIComponent(job.id)}`, 303);
  });

  const jobPage = (kind: 'imports' | 'exports') => async (c: Context) => {
    const raw = c.req.param('id')!;
    const asJson = raw.endsWith('.json');
    const id = asJson ? raw.slice(0, -'.json'.length) : raw;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) throw new ConsoleError(400, 'That is not a job id.');
    const job = need(await api('GET', `/subscribers/${kind}/${id}`));
    const running = job.status === 'running' || job.status === 'awaiting-upload';
    if (asJson) {
      c.header('Cache-Control', 'no-store');
      return c.json({ ...job, running });
    }
    return render(c, 'job', { title: kind === 'imports' ? 'Import' : 'Export', nav: 'subscribers', kind, job, running, refresh: running ? 3 : undefined });
  };
  app.get('/admin/jobs/imports/:id', jobPage('imports'));
  app.get('/admin/jobs/exports/:id', jobPage('exports'));

  // Sends
  const sendInput = (f: Record<string, unknown>) => {
    const kind = str(f.kind) === 'article' ? 'article' : 'digest';
    const body: Record<string, unknown> = { kind };
    if (kind === 'digest') body.frequency = str(f.frequency) === 'daily' ? 'daily' : 'weekly';
    else {
      body.articleId = str(f.articleId);
      if (['instant', 'daily', 'weekly', 'all'].includes(str(f.frequency))) body.frequency = str(f.frequency);
    }
    if (str(f.subject).trim()) body.subject = str(f.subject).trim();
    if (kind === 'digest' && str(f.intro).trim()) body.intro = str(f.intro).trim();
    const topics = str(f.topics)
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    if (topics.length) body.topics = topics;
    return body;
  };

  const sendsPage = async (c: Context, extra: Record<string, unknown> = {}, status = 200) => {
    const [sends, articles] = await Promise.all([api('GET', '/sends?limit=50'), api('GET', '/articles?status=published&limit=50')]);
    return render(c, 'sends', { title: 'Sends', nav: 'sends', sends: need(sends).items, articles: need(articles).items, form: {}, ...extra }, status);
  };
  app.get('/admin/sends', (c) => sendsPage(c));

  app.post('/admin/sends', async (c) => {
    const f = await form(c);
    const action = str(f.action);
    const body = sendInput(f);
    const formData = {
      kind: body.kind,
      frequency: str(f.frequency),
      articleId: str(f.articleId),
      subject: str(f.subject),
      intro: str(f.intro),
      topics: str(f.topics),
      testAddress: str(f.testAddress),
    };
    if (action === 'test') {
      const address = str(f.testAddress).trim();
      const r = await api('POST', '/sends/test', { ...body, addresses: [address] });
      if (!r.ok) return sendsPage(c, { form: formData, error: problem(r) }, r.status);
      const result = r.body.results?.[0];
      return sendsPage(c, {
        form: formData,
        ...(result?.error ? { error: `The test to ${address} failed: ${result.error}` } : { notice: `A test email went to ${address}.` }),
      });
    }
    const r = await api('POST', '/sends', action === 'dry-run' ? { ...body, dryRun: true } : body);
    if (!r.ok) return sendsPage(c, { form: formData, error: problem(r) }, r.status);
    return c.redirect(`/admin/sends/${encodeURIComponent(r.body.id)}`, 303);
  });

  const sendView = (s: ApiBody) => {
    const counts = s.counts ?? {};
    const planned = counts.planned ?? counts.audience ?? 0;
    return {
      ...s,
      running: !TERMINAL_SEND.has(s.status),
      // What POST /api/sends/{id}/resume accepts: a stopped send, or a completed one with failures to retry.
      canResume:
        ['paused', 'cancelled', 'failed'].includes(s.status) || (s.status === 'completed' && ((counts.failed ?? 0) > 0 || (counts.uncertain ?? 0) > 0)),
      percent: Math.round((s.progress ?? 0) * 100),
      skipped: Object.entries(s.skippedBy ?? {})
        .filter(([, n]) => (n as number) > 0)
        .map(([reason, n]) => ({ reason, n })),
      reportedList: Object.entries(s.reported ?? {}).map(([kind, n]) => ({ kind, n })),
      countList: Object.entries(counts).map(([name, n]) => ({ name, n })),
      planned,
    };
  };

  app.get('/admin/sends/:id{[a-z0-9-]+\\.json}', async (c) => {
    const id = c.req.param('id').replace(/\.json$/, '');
    const r = await api('GET', `/sends/${id}`);
    c.header('Cache-Control', 'no-store');
    if (!r.ok) return c.json(r.body, r.status as 404);
    return c.json(sendView(r.body));
  });

  app.get('/admin/sends/:id', async (c) => {
    const id = c.req.param('id');
    if (!/^[a-z0-9-]{1,80}$/.test(id)) throw new ConsoleError(400, 'That is not a send id.');
    const send = sendView(need(await api('GET', `/sends/${id}`)));
    // Without JavaScript the page reloads itself while the send runs.
    return render(c, 'send', { title: `Send ${send.id}`, nav: 'sends', send, refresh: send.running ? 3 : undefined });
  });

  app.post('/admin/sends/:id/:action{cancel|resume}', async (c) => {
    const id = c.req.param('id');
    const action = c.req.param('action');
    const f = await form(c);
    const r = await api(
      'POST',
      `/sends/${encodeURIComponent(id)}/${action}`,
      action === 'resume' && str(f.retryUncertain) === 'true' ? { retryUncertain: true } : undefined,
    );
    if (!r.ok) {
      const send = sendView(need(await api('GET', `/sends/${encodeURIComponent(id)}`)));
      return render(c, 'send', { title: `Send ${send.id}`, nav: 'sends', send, error: problem(r) }, r.status);
    }
    return c.redirect(`/admin/sends/${encodeURIComponent(id)}`, 303);
  });

  // Settings
  app.get('/admin/settings', async (c) => {
    const settings = await deps.settings();
    return render(c, 'settings', { title: 'Settings', nav: 'settings', settings, dns: settings.dns });
  });

  return app;
}

class ConsoleError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
