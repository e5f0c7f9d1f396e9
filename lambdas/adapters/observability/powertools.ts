import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import {
  currentCorrelation,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  withCorrelation,
  type LogFn,
  type MetricName,
  type Metrics,
} from '../../compose/observability.ts';

export interface PowertoolsObservabilityOptions {
  /** Written as `function` on every line: the function's role (`sendWorker`); its physical name until an entry point says. */
  functionName?: string | undefined;
  /** X-Ray through Powertools Tracer; absent: no subsegments (tests, the local runtime never builds this). */
  tracer?: Tracer | undefined;
}

/** What the Lambda runtime puts in the global scope for each invocation (newer runtimes): its request id, for functions whose entry point is not wrapped. */
interface LambdaInvokeStore {
  getRequestId?: () => string | undefined;
}
const invokeStore = (): LambdaInvokeStore | undefined => (globalThis as { awslambda?: { InvokeStore?: LambdaInvokeStore } }).awslambda?.InvokeStore;

/** Keys a correlating detail must not overwrite on a Powertools line. */
const RESERVED = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
]);

/** The level a line of the shared `log(message, detail)` callback gets: ERROR when it carries an error, INFO otherwise. */
export function levelOf(detail: unknown): 'error' | 'info' {
  if (detail instanceof Error) return 'error';
  if (detail && typeof detail === 'object' && !Array.isArray(detail)) {
    const d = detail as Record<string, unknown>;
    if (d.error instanceof Error || typeof d.error === 'string' || d.err instanceof Error) return 'error';
  }
  return 'info';
}

/**
 * Observability in AWS with Powertools for AWS Lambda:
 *
 * - `log`: one JSON object per line on stdout (Powertools Logger): `level`, `message`, `timestamp`,
 *   `service`, `function`, and within an instrumented invocation `cold_start`, `function_name`,
 *   `function_request_id`; `xray_trace_id` when tracing is on; the correlation keys of the work under way
 *   (`send_id`, `message_id`, ...: {@link withCorrelation}); the detail's keys, an error as `error` with
 *   its name, message, stack and cause.
 * - `metrics`: CloudWatch Embedded Metric Format (Powertools Metrics), namespace `Inkwire`, dimension
 *   `service=inkwire`. Within an instrumented invocation counts are summed and written once when it ends;
 *   outside one (the HTTP API, whose entry point is Hono's), and for dimensioned counts, each is written at once.
 * - `instrument`: wraps a Lambda handler: the Lambda context on every line, the event's correlation keys,
 *   an X-Ray subsegment `## <function>` annotated with cold start and service, the metrics flushed.
 */
export class PowertoolsObservability {
  readonly logger: Logger;
  readonly emf: PowertoolsMetrics;
  readonly tracer: Tracer | undefined;
  readonly log: LogFn;
  readonly metrics: Metrics;
  /** Counts of the invocation under way, written when it ends. */
  private readonly invocation = new AsyncLocalStorage<Map<MetricName, number>>();
  private functionName: string;

  constructor(options: PowertoolsObservabilityOptions = {}) {
    this.functionName = options.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'unknown';
    this.logger = new Logger({ serviceName: SERVICE_NAME, persistentKeys: { function: this.functionName } });
    this.emf = new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
    this.tracer = options.tracer;
    this.log = (message, detail) => this.write(message, detail);
    this.metrics = {
      count: (name, value = 1, dimensions) => this.count(name, value, dimensions),
      milliseconds: (name, ms) => this.duration(name, ms),
    };
  }

  private write(message: string, detail: unknown): void {
    const keys: Record<string, unknown> = { ...currentCorrelation() };
    // The HTTP API is not wrapped (Hono's entry point): its request id, when the runtime offers it.
    if (!this.inInvocation()) {
      const requestId = invokeStore()?.getRequestId?.();
      // Outside an invocation the store answers '-'.
      if (requestId && requestId !== '-') keys.request_id = requestId;
    }
    const extra: Record<string, unknown> = {};
    if (detail instanceof Error) extra.error = detail;
    else if (detail && typeof detail === 'object' && !Array.isArray(detail)) {
      for (const [k, v] of Object.entries(detail as Record<string, unknown>)) extra[RESERVED.has(k) ? `detail_${k}` : k] = v;
    } else if (detail !== undefined && detail !== '') extra.detail = detail;
    this.logger[levelOf(detail)](message, keys, extra);
  }

  private inInvocation(): boolean {
    return this.invocation.getStore() !== undefined;
  }

  private count(name: MetricName, value: number, dimensions?: Record<string, string>): void {
    const tally = this.invocation.getStore();
    if (tally && !dimensions) {
      tally.set(name, (tally.get(name) ?? 0) + value);
      return;
    }
    const single = this.emf.singleMetric();
    for (const [k, v] of Object.entries(dimensions ?? {})) single.addDimension(k, v);
    single.addMetric(name, MetricUnit.Count, value);
  }

  private duration(name: MetricName, ms: number): void {
    if (this.inInvocation()) this.emf.addMetric(name, MetricUnit.Milliseconds, ms);
    else this.emf.singleMetric().addMetric(name, MetricUnit.Milliseconds, ms);
  }

  /** Writes the invocation's counts and durations as one EMF line (none when nothing was counted). */
  private flush(tally: Map<MetricName, number>): void {
    for (const [name, value] of tally) this.emf.addMetric(name, MetricUnit.Count, value);
    if (this.emf.hasStoredMetrics()) this.emf.publishStoredMetrics();
  }

  /**
   * A Lambda handler under observability. `name` is the function's role, written as `function` on every
   * line from then on; `correlate` names what the event is about (e.g. `{ frequency }` of a digest), added
   * to every line of the invocation. A handler that throws is logged with the error, then rethrown.
   */
  instrument<E, R>(
    name: string,
    handler: (event: E, context: Context) => Promise<R>,
    correlate?: (event: E) => Record<string, string | undefined>,
  ): (event: E, context: Context) => Promise<R> {
    this.functionName = name;
    this.logger.appendPersistentKeys({ function: name });
    return async (event, context) => {
      this.logger.addContext(context);
      const tracer = this.tracer?.isTracingEnabled() ? this.tracer : undefined;
      const segment = tracer?.getSegment();
      const subsegment = segment?.addNewSubsegment(`## ${name}`);
      if (tracer && subsegment) {
        tracer.setSegment(subsegment);
        tracer.annotateColdStart();
        tracer.addServiceNameAnnotation();
      }
      const tally = new Map<MetricName, number>();
      let keys: Record<string, string | undefined> = {};
      try {
        keys = correlate?.(event) ?? {};
      } catch {
        // A malformed event is the handler's to refuse; it only lacks the keys.
      }
      try {
        return await this.invocation.run(tally, () =>
          withCorrelation(keys, async () => {
            try {
              return await handler(event, context);
            } catch (e) {
              this.write(`${name} failed`, e instanceof Error ? e : { error: String(e) });
              if (tracer && subsegment && e instanceof Error) tracer.addErrorAsMetadata(e);
              throw e;
            }
          }),
        );
      } finally {
        this.flush(tally);
        if (tracer && subsegment && segment) {
          subsegment.close();
          tracer.setSegment(segment);
        }
      }
    };
  }
}
