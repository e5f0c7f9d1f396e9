import { OpenAPIHono } from '@hono/zod-openapi';
import * as z from 'zod';
import { fromZod } from './errors.ts';

/** `originVerified`: the request carried the origin secret (it came through CloudFront); see origin-guard.ts. */
export type AppEnv = { Variables: { requestId: string; originVerified?: boolean } };

/** Every router validates with the same hook: a zod failure becomes our 400 naming the field. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, _c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'body' : result.target === 'param' ? 'path' : (result.target as 'query');
        throw fromZod(result.error as z.ZodError, where, (result as { data?: unknown }).data);
      }
    },
  });
}

const LIMIT_MESSAGE = 'expected a whole number from 1 to 100';

/** The `limit` query parameter of every list: a whole number from 1 to 100, `def` when absent. */
export const pageLimit = (def: number) =>
  z.coerce.number({ error: LIMIT_MESSAGE }).int({ error: LIMIT_MESSAGE }).min(1, { error: LIMIT_MESSAGE }).max(100, { error: LIMIT_MESSAGE }).default(def);

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'request.invalid' }),
      message: z.string().meta({ example: 'invalid body: title: must not be empty' }),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z.string().optional(),
    }),
  })
  .openapi('Error');

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description:
          (
            {
              400: 'Invalid input: the message and issues name each field and problem',
              401: 'Missing or wrong API key',
              404: 'Not found',
              409: 'Conflict',
              410: 'Gone',
              413: 'Body too large',
              415: 'Content-Type must be application/json',
              422: 'Idempotency-Key reused with a different body',
              429: 'Too many requests; see Retry-After',
            } as Record<number, string>
          )[s] ?? 'Error',
        content: { 'application/json': { schema: ErrorSchema } },
      },
    ]),
  );

/** The `Idempotency-Key` request header; `creates` says what a repeat does not create again. */
export const idempotencyHeader = (creates: string) =>
  z.object({
    'idempotency-key': z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional()
      .openapi({ description: `A repeated request with the same key and body returns the first answer and creates ${creates} (24 hours).` }),
  });

/**
 * A schema from core registered as a named OpenAPI component. zod 4 gives each schema its methods when it
 * is created, so a core schema created before the OpenAPI extension loaded has no `.openapi()`: a clone
 * made here, after it loaded, always does, whatever the import order.
 */
export function named<T extends z.ZodType>(schema: T, name: string): T {
  return (schema.clone() as unknown as { openapi(name: string): T }).openapi(name);
}
