import { createRoute } from '@hono/zod-openapi';
import * as z from 'zod';
import { hashRequest } from '../../core/idempotency.ts';
import type { DeliveryDeps } from '../../core/sends/deps.ts';
import { PreviewRequestSchema, SendOutputSchema, SendRequestSchema, TestRequestSchema } from '../../core/sends/schema.ts';
import { cancelSend, createSend, getSend, listSends, previewSend, resumeSend, testSend, type SendOutput } from '../../core/sends/use-cases.ts';
import { errorResponses, newRouter, pageLimit, idempotencyHeader } from '../router.ts';

// Named with `.meta({ id })`, which needs no prototype patch: these schemas are built in core, possibly before @hono/zod-openapi loads.
const Send = SendOutputSchema.meta({ id: 'Send' });
const SendRequest = SendRequestSchema.meta({ id: 'SendRequest' });
const PreviewRequest = PreviewRequestSchema.meta({ id: 'SendPreviewRequest' });
const TestRequest = TestRequestSchema.meta({ id: 'SendTestRequest' });
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(80)
    .regex(/^[a-z0-9-]+$/, 'must be a send id')
    .openapi({ param: { name: 'id', in: 'path' }, example: 'alert-01hq0z8k2m4n6p8r0t2v4x6y8z' }),
});
const ResumeRequest = z
  .object({
    retryUncertain: z.boolean().optional().openapi({
      description:
        'Also send again to recipients left `uncertain` (their call was in flight when a process died): some of them may get the mail twice. Default false.',
    }),
  })
  .strict()
  .meta({ id: 'SendResumeRequest' });
const security = [{ bearerAuth: [] }];
const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
const sendResponse = (description: string) => ({ description, content: { 'application/json': { schema: Send } } });

const IdempotencyHeader = idempotencyHeader('no second send');

/** `/sends`: create, preview, test, watch, cancel and resume newsletter sends. Mounted at `/api`. */
export function sendRoutes(deps: DeliveryDeps) {
  const app = newRouter();
  const out = (s: SendOutput) => s as z.infer<typeof Send>;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/sends',
      tags: ['Sends'],
      summary: 'Send an article or a digest',
      description:
        'Answers 202 at once: the send is planned and delivered in the background, paced to the SES rate. Watch it with `GET /api/sends/{id}`. A digest gives each subscriber the articles published since their own last digest (none for someone with nothing new).',
      security,
      request: { body: json(SendRequest), headers: IdempotencyHeader },
      responses: { 202: sendResponse('Accepted'), ...errorResponses(400, 401, 409, 415, 422) },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const key = c.req.valid('header')['idempotency-key'];
      const result = await createSend(deps, input, key ? { scope: 'sends.create', key, requestHash: hashRequest(input) } : undefined);
      if (result.replayed) c.header('Idempotent-Replayed', 'true');
      c.header('Location', `/api/sends/${result.body.id}`);
      return c.json(out(result.body), 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/sends/preview',
      tags: ['Sends'],
      summary: 'Render a send without sending it',
      description:
        'The subject, HTML and text a sample subscriber (or `subscriberId`) would get. With `subscriberId`, a digest covers that subscriber\u2019s own window and topics, and a subscriber the send would skip gets 409 `send.nothingToSend` naming the reason (`nothingNew`, `topicsExcludeAll`, …).',
      security,
      request: { body: json(PreviewRequest) },
      responses: {
        200: {
          description: 'The rendered email',
          content: {
            'application/json': {
              schema: z
                .object({
                  subject: z.string(),
                  html: z.string(),
                  text: z.string(),
                  articles: z.array(z.object({ id: z.string(), title: z.string(), url: z.string() })),
                  window: z.object({ since: z.string(), until: z.string() }).optional().meta({
                    description: 'Digest: the recipient\u2019s window; articles published after `since` (their last digest or confirmation) up to `until`.',
                  }),
                })
                .openapi('SendPreview'),
            },
          },
        },
        ...errorResponses(400, 401, 404, 409, 415),
      },
    }),
    async (c) => c.json(await previewSend(deps, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/sends/test',
      tags: ['Sends'],
      summary: 'Send a test to a few addresses',
      description: 'Sends the email now, with a `[Test]` subject, to the given addresses only. Nothing is counted and no subscriber gets anything.',
      security,
      request: { body: json(TestRequest) },
      responses: {
        200: {
          description: 'One result per address',
          content: {
            'application/json': {
              schema: z
                .object({ results: z.array(z.object({ address: z.string(), messageId: z.string().optional(), error: z.string().optional() })) })
                .openapi('SendTestResult'),
            },
          },
        },
        ...errorResponses(400, 401, 409, 415),
      },
    }),
    async (c) => c.json(await testSend(deps, c.req.valid('json')), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/sends',
      tags: ['Sends'],
      summary: 'List sends, newest first',
      security,
      request: {
        query: z.object({
          limit: pageLimit(20),
          cursor: z.string().max(2000).optional().meta({ description: 'The `next` value of the previous page.' }),
        }),
      },
      responses: {
        200: { description: 'A page of sends', content: { 'application/json': { schema: z.object({ items: z.array(Send), next: z.string().nullable() }) } } },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const page = await listSends(deps, c.req.valid('query'));
      return c.json({ items: page.items.map(out), next: page.next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/sends/{id}',
      tags: ['Sends'],
      summary: 'Status, counts, progress, errors and ETA of a send',
      security,
      request: { params: IdParam },
      responses: { 200: sendResponse('The send'), ...errorResponses(400, 401, 404) },
    }),
    async (c) => c.json(out(await getSend(deps, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/sends/{id}/cancel',
      tags: ['Sends'],
      summary: 'Cancel a send',
      description: 'Batches still queued are dropped within seconds; what went out stays counted. A cancelled send can be resumed.',
      security,
      request: { params: IdParam },
      responses: { 200: sendResponse('The send, cancelled'), ...errorResponses(400, 401, 404, 409) },
    }),
    async (c) => c.json(out(await cancelSend(deps, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/sends/{id}/resume',
      tags: ['Sends'],
      summary: 'Resume a paused, cancelled or stalled send, or retry the failures of a completed one',
      description:
        'Plans the audience again: whoever already has an outcome is passed over (nobody gets it twice), a recipient whose call was in flight when a process died is reported `uncertain` and not sent again unless `retryUncertain` is true, and failures are tried again. A completed send resumes only when it has `failed` recipients (refused, given up, throttled to the end), or `uncertain` ones with `retryUncertain`. A send past its deadline expires instead (a completed one answers 409). The body is optional.',
      security,
      request: { params: IdParam, body: { content: { 'application/json': { schema: ResumeRequest } }, required: false } },
      responses: { 200: sendResponse('The send, resumed'), ...errorResponses(400, 401, 404, 409, 415) },
    }),
    async (c) => {
      const body = (c.req.valid('json') ?? {}) as z.infer<typeof ResumeRequest>;
      return c.json(out(await resumeSend(deps, c.req.valid('param').id, { retryUncertain: body.retryUncertain })), 200);
    },
  );

  return app;
}
