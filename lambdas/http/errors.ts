import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { AppError, type FieldIssue } from '../core/errors.ts';

export interface ErrorBody {
  error: { code: string; message: string; issues?: FieldIssue[]; requestId?: string };
}

/** What came at `path` in the raw input, when it is a string (query, path and header values always are). */
function rawAt(input: unknown, path: PropertyKey[]): string | undefined {
  let v: unknown = input;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/**
 * A zod failure as a 400 that names each field and its problem. `input` is what was validated, before
 * coercion: a query value that is not what was expected is quoted as it came (`received "abc"`), not as
 * zod's coerced NaN.
 */
export function fromZod(error: ZodError, where: 'body' | 'query' | 'path' | 'header' = 'body', input?: unknown): AppError {
  const issues: FieldIssue[] = error.issues.flatMap((i): FieldIssue[] => {
    const at = (p: PropertyKey[]) => p.map(String).join('.') || where;
    // One issue per unknown field, at its own path: `body` is also the name of an article field.
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ path: at([...i.path, k]), message: 'unknown field' }));
    let message = i.message;
    const raw = where === 'body' ? undefined : rawAt(input, i.path);
    if (i.code === 'invalid_type' && /^Invalid input/.test(i.message)) {
      // Zod leaves the input out of its issues: what came is in its message ("expected boolean, received string").
      const received = /received (\w+)$/.exec(i.message)?.[1];
      message = received === 'undefined' && raw === undefined ? 'is required' : `expected ${i.expected}${received ? `, received ${received}` : ''}`;
    }
    if (raw !== undefined)
      message = `${message.replace(/, received [^,]*$/, '')}, received ${JSON.stringify(raw.length > 100 ? `${raw.slice(0, 100)}…` : raw)}`;
    return [{ path: at(i.path), message }];
  });
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new AppError('request.invalid', `invalid ${where}: ${summary}`, { issues });
}

/** Turns anything thrown into the one error shape. Client mistakes are 4xx; internals never leak. */
export function toErrorResponse(err: unknown, c: Context, log: (msg: string, detail: unknown) => void): Response {
  const requestId = c.res.headers.get('x-request-id') ?? c.req.header('x-request-id') ?? undefined;
  let appError: AppError;
  if (err instanceof AppError) appError = err;
  else if (err instanceof HTTPException) {
    if (err.status === 413) appError = new AppError('request.tooLarge', err.message || 'request body is too large');
    else if (err.status === 400 && /json/i.test(err.message)) appError = new AppError('request.malformedJson', 'request body is not valid JSON');
    else if (/unsupported media type/i.test(err.message))
      appError = new AppError('request.unsupportedMediaType', 'send the body as JSON with Content-Type: application/json');
    else if (err.status >= 400 && err.status < 500) {
      appError = new AppError('request.invalid', err.message || 'bad request');
    } else appError = new AppError('internal.unexpected', 'unexpected error', { cause: err });
  } else if (err instanceof SyntaxError) {
    appError = new AppError('request.malformedJson', 'request body is not valid JSON');
  } else {
    appError = new AppError('internal.unexpected', 'something went wrong on our side; it has been logged', { cause: err });
  }
  if (appError.status >= 500) log('request failed', { requestId, path: c.req.path, error: appError.cause ?? appError });
  const body: ErrorBody = {
    error: {
      code: appError.code,
      message: appError.message,
      ...(appError.issues ? { issues: appError.issues } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
  const res = c.json(body, appError.status as 400);
  for (const [k, v] of Object.entries(appError.headers ?? {})) res.headers.set(k, v);
  // The rest of an oversized body is never read: close the connection so the client does not reuse it.
  if (appError.code === 'request.tooLarge') res.headers.set('Connection', 'close');
  return res;
}
