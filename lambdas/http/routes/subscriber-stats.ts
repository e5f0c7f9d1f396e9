import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../../core/errors.ts';
import { subscriberGrowth } from '../../core/subscribers/growth.ts';
import { HISTORY_SENDS, subscriberSendHistory, type SubscriberHistoryReader } from '../../core/subscribers/history.ts';
import type { SubscriberRepository } from '../../core/subscribers/ports.ts';
import { REPORT_KINDS } from '../../core/sends/model.ts';
import type { Clock } from '../../core/clock.ts';
import { errorResponses, newRouter } from '../router.ts';
import { SubscriberIdParam } from './subscribers.ts';

export interface SubscriberStatsDeps {
  subscribers: Pick<SubscriberRepository, 'all' | 'get'>;
  history: SubscriberHistoryReader;
  clock: Clock;
}

const security = [{ bearerAuth: [] }];
const Day = z.object({
  date: z.string().meta({ description: 'UTC day, YYYY-MM-DD.', example: '2026-12-05' }),
  confirmed: z.number().int(),
  unsubscribed: z.number().int(),
  suppressed: z.number().int(),
  net: z.number().int().meta({ description: 'confirmed − unsubscribed − suppressed.' }),
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
        'Confirmations, unsubscribes and suppressions per UTC day over the last 30 or 90 days, from each subscriber\u2019s dates. Reads the whole subscriber list (about 1 read unit per 4 KB of subscribers). Erased subscribers are not counted.',
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
      description: `The subscriber\u2019s delivery record in each of the newest ${HISTORY_SENDS} sends that had them in their audience, newest first, with what SES reported.`,
      security,
      request: {
        params: SubscriberIdParam,
      },
      responses: {
        200: { description: 'The history', content: { 'application/json': { schema: z.object({ items: z.array(HistoryItem) }) } } },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      if (!(await deps.subscribers.get(id))) throw new AppError('subscriber.notFound', `no subscriber ${id}`);
      return c.json({ items: await subscriberSendHistory(deps, id) }, 200);
    },
  );
  return app;
}
