import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { SERVICE_NAME, type LogFn, type Metrics } from '../../compose/observability.ts';
import { PowertoolsObservability } from '../../adapters/observability/powertools.ts';

/**
 * Observability of the AWS composition root, one per execution environment: Powertools Logger (JSON lines),
 * Metrics (EMF, namespace Inkwire) and Tracer (X-Ray; the functions run with active tracing). Every AWS SDK
 * client built in `handlers/aws/` goes through {@link traced}, so its calls show in the trace.
 */
let instance: PowertoolsObservability | undefined;
export const awsObservability = (): PowertoolsObservability =>
  (instance ??= new PowertoolsObservability({ tracer: new Tracer({ serviceName: SERVICE_NAME }) }));

/** The log callback for every dependency bag built in AWS. */
export const awsLog: LogFn = (message, detail) => awsObservability().log(message, detail);

/** The metrics of this function. */
export const awsMetrics = (): Metrics => awsObservability().metrics;

/** An AWS SDK v3 client whose calls are X-Ray subsegments (unchanged where tracing is off). */
export function traced<T>(client: T): T {
  const tracer = awsObservability().tracer;
  return tracer?.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}

/** A handler under the function's observability: see {@link PowertoolsObservability.instrument}. */
export function instrument<E, R>(
  name: string,
  handler: (event: E, context: Context) => Promise<R>,
  correlate?: (event: E) => Record<string, string | undefined>,
) {
  return awsObservability().instrument(name, handler, correlate);
}
