import type { Context } from 'aws-lambda';

/**
 * A Lambda entry point: `handler` (the one the local runtime runs too) under the AWS observability, which
 * is loaded with the AWS composition on the first event. The local runtime imports the handler modules
 * for their `create…Handler` functions and never loads Powertools.
 *
 * `name` is the function's role, written as `function` on each log line; `correlate` names what an event
 * is about (added to each line of its invocation). See `handlers/aws/observability.ts`.
 */
export function lambdaEntry<E, R>(
  name: string,
  handler: (event: E, context: Context) => Promise<R>,
  correlate?: (event: E) => Record<string, string | undefined>,
): (event: E, context: Context) => Promise<R> {
  let wrapped: Promise<(event: E, context: Context) => Promise<R>> | undefined;
  return async (event, context) => {
    wrapped ??= import('./aws/observability.ts').then((m) => m.instrument(name, handler, correlate));
    return (await wrapped)(event, context);
  };
}
