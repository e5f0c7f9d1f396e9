import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { randomUUID } from 'node:crypto';
import { AppError } from '../core/errors.ts';
import type { ApiKeyVerifier } from '../core/auth.ts';
import type { ArticleDeps } from '../core/articles/use-cases.ts';
import { toErrorResponse } from './errors.ts';
import { ErrorSchema, newRouter } from './router.ts';
import { originGuard, type OriginGuardOptions } from './origin-guard.ts';
import { articleRoutes } from './routes/articles.ts';
import { docsPage } from './docs-page.ts';
import { SITE_PATHS } from '../core/site/paths.ts';
import type { DocumentReader } from '../core/feeds/ports.ts';

const NOT_FOUND_PAGE = SITE_PATHS.notFound;

/** The publisher API's request limit; larger bodies get a 413. Article bodies have their own limit. */
export const MAX_JSON_BODY_BYTES = 256 * 1024;

export interface AppDeps {
  articles: ArticleDeps;
  apiKeys: ApiKeyVerifier;
  /** Serves generated feeds (local runtime only; in AWS CloudFront serves them from S3). */
  documents?: DocumentReader | undefined;
  /** Extra routers mounted on the app, each with its own paths (subscribers, sends, dev pages). */
  // biome-ignore lint/suspicious/noExplicitAny: routers of any env, schema and base path mount the same way (Hono's own route() takes them so)
  mounts?: { path: string; app: Hono<any, any, any> }[];
  ready?: () => Promise<boolean>;
  log?: (msg: string, detail: unknown) => void;
  /**
   * The origin check (AWS): every request must carry the origin secret CloudFront adds, or gets a 403.
   * Off when not given (the local runtime, which has no CloudFront in front).
   */
  origin?: OriginGuardOptions | undefined;
}

/** Every operation's 403 in the OpenAPI document: the origin check answers it before any route runs. */
const ORIGIN_FORBIDDEN_RESPONSE = {
  description:
    'In AWS only: the request did not come through the site\u2019s CloudFront distribution (it was sent to the API\u2019s own execute-api endpoint, without the origin header CloudFront adds). Error code `origin.forbidden`.',
  content: { 'application/json': { schema: ErrorSchema } },
};

const PUBLIC_API_PATHS = new Set(['/api/openapi.json', '/api/docs']);
const STREAMED_UPLOADS = new Set(['POST /api/subscribers/import']);

/** The one HTTP app: Lambda wraps it with `handle(app)`, the local runtime serves it with @hono/node-server. */
export function createApp(deps: AppDeps) {
  const log = deps.log ?? ((m: string, d: unknown) => console.error(m, d));
  const app = newRouter();

  app.use('*', async (c, next) => {
    const id = c.req.header('x-request-id')?.slice(0, 100) ?? randomUUID();
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
  });

  app.onError((err, c) => toErrorResponse(err, c, log));
  app.notFound(async (c) => {
    // A reader who follows a dead link gets the site's 404 page; the API and other methods keep JSON errors.
    const isPage = deps.documents && (c.req.method === 'GET' || c.req.method === 'HEAD') && !/^\/api(\/|$)/.test(c.req.path);
    const page = isPage ? await deps.documents!.get(NOT_FOUND_PAGE) : undefined;
    if (page) {
      const headers = { 'Content-Type': page.contentType, 'Cache-Control': 'public, max-age=60' };
      return c.req.method === 'HEAD' ? c.body(null, 404, headers) : c.body(new Uint8Array(page.body), 404, headers);
    }
    return toErrorResponse(new AppError('route.notFound', `no route for ${c.req.method} ${c.req.path}`), c, log);
  });

  // Before anything else answers: a request that bypassed CloudFront learns nothing but this 403.
  if (deps.origin) app.use('*', originGuard(deps.origin));

  app.use('/api/*', async (c, next) => {
    if (PUBLIC_API_PATHS.has(c.req.path)) return next();
    const header = c.req.header('authorization');
    if (!header)
      throw new AppError('auth.missingKey', 'send the publisher API key as `Authorization: Bearer <key>`', { headers: { 'WWW-Authenticate': 'Bearer' } });
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !(await deps.apiKeys.verify(match[1]!))) {
      throw new AppError('auth.invalidKey', 'the API key is not valid', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
    }
    return next();
  });

  const jsonBodyLimit = bodyLimit({
    maxSize: MAX_JSON_BODY_BYTES,
    onError: () => {
      throw new AppError('request.tooLarge', `request body is larger than ${MAX_JSON_BODY_BYTES} bytes`);
    },
  });
  app.use('/api/*', (c, next) => {
    // The CSV import streams its body and enforces its own, larger limit.
    if (STREAMED_UPLOADS.has(`${c.req.method} ${c.req.path}`)) return next();
    return jsonBodyLimit(c, next);
  });

  app.use('/api/*', async (c, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(c.req.method)) {
      const type = c.req.header('content-type') ?? '';
      const isJson = /^application\/(.+\+)?json\s*(;|$)/i.test(type);
      const isCsv = /^text\/csv\s*(;|$)/i.test(type) && STREAMED_UPLOADS.has(`${c.req.method} ${c.req.path}`);
      const len = c.req.header('content-length');
      // No body at all (curl -X POST sends neither Content-Length nor Transfer-Encoding) is not a body of the wrong type.
      const empty = len === '0' || (len === undefined && c.req.header('transfer-encoding') === undefined);
      if (!isJson && !isCsv && !empty) {
        throw new AppError('request.unsupportedMediaType', `send the body as JSON with Content-Type: application/json (got ${type || 'no Content-Type'})`);
      }
    }
    return next();
  });

  app.get('/health', async (c) => {
    const ok = deps.ready ? await deps.ready() : true;
    return c.json({ status: ok ? 'ok' : 'starting' }, ok ? 200 : 503);
  });

  app.route('/api', articleRoutes(deps.articles));
  for (const m of deps.mounts ?? []) app.route(m.path, m.app);
  for (const d of app.openAPIRegistry.definitions) {
    if (d.type === 'route' && !d.route.responses[403]) d.route.responses[403] = ORIGIN_FORBIDDEN_RESPONSE;
  }

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'The publisher API key.' });
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Inkwire API',
      version: '0.1.0',
      description:
        'Publish articles, manage subscribers and send newsletters. Feeds are static documents at /feed.xml, /atom.xml and /feed.json (and per tag and author).',
    },
  });
  app.get('/api/docs', (c) => c.html(docsPage('/api/openapi.json')));

  if (deps.documents) {
    const documents = deps.documents;
    app.on(['GET', 'HEAD'], '*', async (c, next) => {
      let path = c.req.path;
      if (path.endsWith('/')) path += 'index.html';
      const doc = await documents.get(path);
      if (!doc) {
        // A page asked for without its trailing slash (`/articles/x`) is sent to its address (`/articles/x/`),
        // as CloudFront's viewer-request function does.
        if (!path.endsWith('/index.html') && !/\.[^/]*$/.test(path) && (await documents.get(`${path}/index.html`))) {
          return c.redirect(`${c.req.path}/${new URL(c.req.url).search}`, 301);
        }
        return next();
      }
      const lastModified = doc.lastModified.toUTCString();
      const headers: Record<string, string> = {
        'Content-Type': doc.contentType,
        ETag: doc.etag,
        'Last-Modified': lastModified,
        'Cache-Control': 'public, max-age=60',
      };
      const inm = c.req.header('if-none-match');
      const ims = c.req.header('if-modified-since');
      const notModified =
        inm !== undefined
          ? inm.split(',').some((t) => t.trim() === doc.etag || t.trim() === `W/${doc.etag}` || t.trim() === '*')
          : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Math.floor(doc.lastModified.getTime() / 1000) <= Math.floor(Date.parse(ims) / 1000);
      if (notModified) return c.body(null, 304, headers);
      if (c.req.method === 'HEAD') return c.body(null, 200, { ...headers, 'Content-Length': String(doc.body.length) });
      return c.body(new Uint8Array(doc.body), 200, { ...headers, 'Content-Length': String(doc.body.length) });
    });
  }

  return app;
}

export type App = ReturnType<typeof createApp>;
