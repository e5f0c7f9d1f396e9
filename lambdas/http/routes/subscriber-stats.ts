import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../../core/errors.ts';
import { subscriberGrowth, type GrowthReader } from '../../core/subscribers/growth.ts';
import { subscriberSendHistory, type SubscriberHistoryReader } from '../../core/subscribers/history.ts';
import type { SubscriberRepository } from '../../core/subscribers/ports.ts';
import { REPORT_KINDS } from '../../core/sends/model.ts';
import type { Clock } from '../../core/clock.ts';
import { errorResponses, newRouter, pageLimit } from '../router.ts';
import { SubscriberIdParam } from './subscribers.ts';

export interface SubscriberStatsDeps {
  subscribers: Pick<SubscriberRepository, 'get'>;
  growth: GrowthReader;
  history: SubscriberHistoryReader;
  clock: Clock;
}

const security = [{ bearerAuth: [] }];
const Day = z.object({
  date: z.string().meta({ description: 'UTC day, YYYY-MM-DD.', example: '2026-12-05' }),
  confirmed: z.number().int(),
  unsubscribed: z.number().int(),
  suppressed: z.number().int(),
  erased: z.number().int(),
  net: z.number().int().meta({ description: 'confirmed − unsubscribed − suppressed − erased: the change in confirmed subscribers that day.' }),
});
const GrowthSchema = z
  .object({
    days: z.number().int(),
    from: z.string(),
    to: z.string(),
    items: z.array(Day).meta({ description: 'One entry per day, oldest first, today last; days without change are zeros.' }),
    totals: Day.omit({ date: true }),
  })
  .openapi('SubscriberGrowth');
const HistoryItem = z
  .object({
    sendId: z.string(),
    kind: z.enum(['article', 'digest', 'confirmation']),
    subject: z.string().optional(),
    articleId: z.string().optional(),
    sendCreatedAt: z.string(),
    state: z
      .enum(['sending', 'pending', 'submitted', 'failed', 'uncertain', 'skipped', 'suppressed'])
      .meta({ description: 'The subscriber\u2019s delivery record in that send.' }),
    submittedAt: z.string().optional(),
    code: z.string().optional().meta({ description: 'Failure code, or the skip reason (`nothingNew`, `paused`, …).' }),
    reported: z
      .object(Object.fromEntries(REPORT_KINDS.map((k) => [k, z.string().optional()])) as Record<(typeof REPORT_KINDS)[number], z.ZodOptional<z.ZodString>>)
      .meta({ description: 'What SES reported about the message, each with its time.' }),
  })
  .openapi('SubscriberSendRecord');

/**
 * `/subscribers/growth` and `/subscribers/{id}/sends`, mounted at `/api` before the subscriber routes
 * (whose `/subscribers/{id}` would otherwise take `growth` for an id).
 */
export function subscriberStatsRoutes(deps: SubscriberStatsDeps) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/growth',
      tags: ['Subscribers'],
      summary: 'Net subscriber growth per day',
      description:
        'Changes of the confirmed list per UTC day over the last 30 or 90 days: subscribers confirmed (double opt-in, an import with consent, a resubscribe), and confirmed subscribers who unsubscribed, were suppressed (hard bounce, complaint) or were erased. Each change is recorded with the write that made it, so the days are exact and a day\u2019s net is the change in confirmed subscribers. Reads only the changes in the window.',
      security,
      request: { query: z.object({ days: z.enum(['30', '90']).default('30').meta({ description: 'The window: 30 or 90 days, today included.' }) }) },
      responses: { 200: { description: 'Growth per day', content: { 'application/json': { schema: GrowthSchema } } }, ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await subscriberGrowth(deps, Number(c.req.valid('query').days)), 200),
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/subscribers/{id}/sends',
      tags: ['Subscribers'],
      summary: 'What was sent to a subscriber',
      description:
        'Every send that reached the subscriber (sent, failed or skipped), newest first, a page at a time: their delivery record in it and what SES reported. A digest whose plan found nothing new for them made no record and is not listed.',
      security,
      request: {
        params: SubscriberIdParam,
        query: z.object({
          limit: pageLimit(20),
          cursor: z.string().max(2000).optional().meta({ description: 'The `next` value of the previous page.' }),
        }),
      },
      responses: {
        200: {
          description: 'One page of the history',
          content: {
            'application/json': {
              schema: z.object({
                items: z.array(HistoryItem),
                next: z.string().nullable().meta({ description: 'Pass as `cursor` for older sends; null on the last page.' }),
              }),
            },
          },
        },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      if (!(await deps.subscribers.get(id))) throw new AppError('subscriber.notFound', `no subscriber ${id}`);
      return c.json(await subscriberSendHistory(deps, id, c.req.valid('query')), 200);
    },
  );
  return app;
}
