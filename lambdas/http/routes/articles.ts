import { createRoute } from '@hono/zod-openapi';
import * as z from 'zod';
import { ArticleInputSchema, ArticleOutputSchema, ArticlePatchSchema, ArticleStatusSchema, toArticleOutput } from '../../core/articles/schema.ts';
import {
  createArticle,
  deleteArticle,
  getArticle,
  articleBySlug,
  listArticles,
  patchArticle,
  replaceArticle,
  type ArticleDeps,
} from '../../core/articles/use-cases.ts';
import { hashRequest } from '../../core/idempotency.ts';
import { errorResponses, newRouter, pageLimit, idempotencyHeader, named } from '../router.ts';

const Article = named(ArticleOutputSchema, 'Article');
const ArticleInput = named(ArticleInputSchema, 'ArticleInput');
const ArticlePatch = named(ArticlePatchSchema, 'ArticlePatch');
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9]+$/, 'must be an article id')
    .openapi({ param: { name: 'id', in: 'path' }, example: '01hq0z8k2m4n6p8r0t2v4x6y8z' }),
});
const security = [{ bearerAuth: [] }];
const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });

const IdempotencyHeader = idempotencyHeader('nothing new');

export function articleRoutes(deps: ArticleDeps) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/articles',
      tags: ['Articles'],
      summary: 'Create an article',
      security,
      request: { body: json(ArticleInput), headers: IdempotencyHeader },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: Article } } },
        ...errorResponses(400, 401, 409, 413, 415, 422),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const key = c.req.valid('header')['idempotency-key'];
      const result = await createArticle(deps, input, key ? { scope: 'articles.create', key, requestHash: hashRequest(input) } : undefined);
      if (result.replayed) c.header('Idempotent-Replayed', 'true');
      c.header('Location', `/api/articles/${result.body.id}`);
      return c.json(result.body, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/articles',
      tags: ['Articles'],
      summary: 'List articles, newest first',
      security,
      request: {
        query: z.object({
          status: ArticleStatusSchema.optional(),
          slug: z.string().max(80).optional().meta({ description: 'Only the article with exactly this slug (a page of one, or none).' }),
          limit: pageLimit(20),
          cursor: z.string().max(2000).optional().meta({ description: 'The `next` value of the previous page.' }),
        }),
      },
      responses: {
        200: {
          description: 'A page of articles',
          content: { 'application/json': { schema: z.object({ items: z.array(Article), next: z.string().nullable() }) } },
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      if (q.slug !== undefined) {
        const found = await articleBySlug(deps, q.slug);
        const items = found && (q.status === undefined || found.status === q.status) ? [toArticleOutput(found)] : [];
        return c.json({ items, next: null }, 200);
      }
      const page = await listArticles(deps, q);
      return c.json({ items: page.items.map(toArticleOutput), next: page.next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/articles/{id}',
      tags: ['Articles'],
      summary: 'Get an article',
      security,
      request: { params: IdParam },
      responses: { 200: { description: 'The article', content: { 'application/json': { schema: Article } } }, ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(toArticleOutput(await getArticle(deps, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/articles/{id}',
      tags: ['Articles'],
      summary: 'Replace an article',
      description: 'Replaces every field. Its id never changes; a published article is updated in every feed, with a new updated date.',
      security,
      request: { params: IdParam, body: json(ArticleInput) },
      responses: { 200: { description: 'The article', content: { 'application/json': { schema: Article } } }, ...errorResponses(400, 401, 404, 409, 413, 415) },
    }),
    async (c) => c.json(toArticleOutput(await replaceArticle(deps, c.req.valid('param').id, c.req.valid('json'))), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/articles/{id}',
      tags: ['Articles'],
      summary: 'Change some fields of an article',
      description: 'Send only the fields to change. `{"status":"draft"}` unpublishes: the article leaves every feed at once.',
      security,
      request: { params: IdParam, body: json(ArticlePatch) },
      responses: { 200: { description: 'The article', content: { 'application/json': { schema: Article } } }, ...errorResponses(400, 401, 404, 409, 413, 415) },
    }),
    async (c) => c.json(toArticleOutput(await patchArticle(deps, c.req.valid('param').id, c.req.valid('json'))), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/articles/{id}',
      tags: ['Articles'],
      summary: 'Delete an article',
      description: 'Removes it from every feed at once.',
      security,
      request: { params: IdParam },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => {
      await deleteArticle(deps, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  return app;
}
