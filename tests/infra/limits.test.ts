import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';
import type { InkwireFunction } from '../../infra/constructs/inkwire-function.ts';
import { deploymentLimits, describeLimits, sendWorkersFor, type DrivenFunction } from '../../infra/limits.ts';
import { synthesize, type Synthesized } from './support/synth.ts';

/**
 * The synthesized template runs every function under `describeLimits(deploymentLimits(rate))`
 * (infra/limits.ts): timeouts, memory, event sources, queues and asynchronous retries, read back from the
 * template and compared field by field; and the local runtime's `GET /_dev/limits` against the template.
 */

type Json = any; // CloudFormation JSON: the readers below check the shapes they rely on.
type Described = ReturnType<typeof describeLimits>;
type AsyncFunction = 'subscriberImport' | 'digest' | 'publishScheduled';
type QueueDriven = Extract<DrivenFunction, 'sendWorker' | 'sendDeadLetter' | 'sesEvents' | 'subscriberJobs'>;
type StreamDriven = Extract<DrivenFunction, 'sendPlanner' | 'feedRebuild'>;

/** SQS's visibility timeout for a queue whose template does not set one. */
const SQS_DEFAULT_VISIBILITY_SECONDS = 30;

const QUEUE_FIELDS = [
  'timeoutSeconds',
  'memoryMb',
  'batchSize',
  'maxBatchingWindowSeconds',
  'maximumConcurrency',
  'visibilityTimeoutSeconds',
  'maxReceiveCount',
] as const;
const STREAM_FIELDS = [
  'timeoutSeconds',
  'memoryMb',
  'batchSize',
  'maxBatchingWindowSeconds',
  'retryAttempts',
  'maxRecordAgeSeconds',
  'parallelizationFactor',
  'bisectBatchOnError',
] as const;
const ASYNC_FIELDS = ['timeoutSeconds', 'memoryMb', 'retryAttempts', 'maxEventAgeSeconds'] as const;
const pick = (o: object, keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]]));

/** A synthesized app and readers over its service template, each function found by its construct. */
function view(s: Synthesized) {
  const stack = s.service;
  const resources: Record<string, Json> = Template.fromStack(stack).toJSON().Resources;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const queueArn = (queue: IQueue) => stack.resolve(queue.queueArn);
  const { functions, sendDeadLetter, subscriberJobs, queues, mail } = stack;

  /** Every function named as `describeLimits` names it. */
  const byName = {
    api: functions.api,
    feedRebuild: functions.feedRebuild,
    sendPlanner: functions.sendPlanner,
    sendWorker: functions.sendWorker,
    sendDeadLetter: sendDeadLetter.handler,
    sesEvents: functions.sesEvents,
    subscriberJobs: subscriberJobs.jobsFunction,
    subscriberImport: subscriberJobs.importFunction,
    digest: functions.digest,
    publishScheduled: functions.publishScheduled,
  } satisfies Record<DrivenFunction | AsyncFunction | 'api', InkwireFunction>;
  /** The queue each queue-driven function consumes. */
  const consumedQueue: Record<QueueDriven, IQueue> = {
    sendWorker: queues.send,
    sendDeadLetter: queues.sendDeadLetter,
    sesEvents: mail.queue,
    subscriberJobs: subscriberJobs.queue,
  };
  /** Where each asynchronously invoked function's failed events go. */
  const failureQueue: Record<AsyncFunction, IQueue> = {
    subscriberImport: subscriberJobs.deadLetterQueue,
    digest: queues.failedEvents,
    publishScheduled: queues.failedEvents,
  };

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  /** The resources of `type` whose FunctionName is this function's (`stack.resolve(fn.functionName)`: its Ref). */
  const forFunction = (type: string, f: InkwireFunction): Json[] => {
    const name = JSON.stringify(stack.resolve(f.fn.functionName));
    return ofType(type)
      .map(([, r]) => r.Properties)
      .filter((p) => JSON.stringify(p.FunctionName) === name);
  };
  const single = (type: string, f: InkwireFunction): Json => {
    const found = forFunction(type, f);
    expect(found, `${type} of ${f.node.path}`).toHaveLength(1);
    return found[0];
  };
  const functionProps = (f: InkwireFunction): Json => resources[logicalId(f.fn)].Properties;
  const run = (f: InkwireFunction) => ({ timeoutSeconds: functionProps(f).Timeout, memoryMb: functionProps(f).MemorySize });

  return {
    stack,
    byName,
    failureQueue,
    logicalId,
    queueArn,
    ofType,
    forFunction,
    functionProps,
    /** What the template says of a queue-driven function, in `describeLimits`'s terms. */
    queueConsumer(name: QueueDriven) {
      const f = byName[name];
      const mapping = single('AWS::Lambda::EventSourceMapping', f);
      expect(mapping.EventSourceArn, `${name} consumes its queue`).toEqual(queueArn(consumedQueue[name]));
      const queue = resources[mapping.EventSourceArn['Fn::GetAtt'][0]].Properties;
      return {
        ...run(f),
        batchSize: mapping.BatchSize,
        maxBatchingWindowSeconds: mapping.MaximumBatchingWindowInSeconds,
        maximumConcurrency: mapping.ScalingConfig?.MaximumConcurrency,
        visibilityTimeoutSeconds: queue.VisibilityTimeout ?? SQS_DEFAULT_VISIBILITY_SECONDS,
        // No redrive policy: the queue keeps a message it cannot hand on for good (describeLimits: null).
        maxReceiveCount: queue.RedrivePolicy?.maxReceiveCount ?? null,
        reportsBatchItemFailures: JSON.stringify(mapping.FunctionResponseTypes) === '["ReportBatchItemFailures"]',
      };
    },
    /** What the template says of a stream-driven function, in `describeLimits`'s terms. */
    streamConsumer(name: StreamDriven) {
      const f = byName[name];
      const mapping = single('AWS::Lambda::EventSourceMapping', f);
      expect(mapping.StartingPosition).toBe('TRIM_HORIZON');
      return {
        ...run(f),
        batchSize: mapping.BatchSize,
        maxBatchingWindowSeconds: mapping.MaximumBatchingWindowInSeconds,
        retryAttempts: mapping.MaximumRetryAttempts,
        maxRecordAgeSeconds: mapping.MaximumRecordAgeInSeconds,
        parallelizationFactor: mapping.ParallelizationFactor,
        bisectBatchOnError: mapping.BisectBatchOnFunctionError,
        reportsBatchItemFailures: JSON.stringify(mapping.FunctionResponseTypes) === '["ReportBatchItemFailures"]',
        onFailure: mapping.DestinationConfig?.OnFailure?.Destination,
      };
    },
    /** What the template says of an asynchronously invoked function, in `describeLimits`'s terms. */
    asyncFunction(name: AsyncFunction) {
      const f = byName[name];
      const config = single('AWS::Lambda::EventInvokeConfig', f);
      return {
        ...run(f),
        retryAttempts: config.MaximumRetryAttempts,
        maxEventAgeSeconds: config.MaximumEventAgeInSeconds,
        onFailure: config.DestinationConfig?.OnFailure?.Destination,
      };
    },
    run,
  };
}

describe.each([
  ['the example configuration (SES rate 1)', { example: 'true' }, 1],
  ['the example configuration at an SES rate of 500', { example: 'true', sesMaxSendRate: '500' }, 500],
])('the template of %s', (_name, context, rate) => {
  let t: ReturnType<typeof view>;
  let expected: Described;

  beforeAll(() => {
    const s = synthesize(context);
    expect(s.config.sesMaxSendRate).toBe(rate);
    t = view(s);
    expected = describeLimits(deploymentLimits(rate));
  });

  it.each(['sendWorker', 'sendDeadLetter', 'sesEvents', 'subscriberJobs'] as const)(
    'runs the queue-driven %s, its event source and its queue under the limits',
    (name) => {
      const inTemplate = t.queueConsumer(name);
      expect(pick(inTemplate, QUEUE_FIELDS)).toEqual(pick(expected[name], QUEUE_FIELDS));
      expect(inTemplate.reportsBatchItemFailures).toBe(true);
    },
  );

  it.each(['sendPlanner', 'feedRebuild'] as const)('runs the stream-driven %s and its event source under the limits', (name) => {
    const inTemplate = t.streamConsumer(name);
    expect(pick(inTemplate, STREAM_FIELDS)).toEqual(pick(expected[name], STREAM_FIELDS));
    expect(inTemplate.reportsBatchItemFailures).toBe(true);
    expect(inTemplate.onFailure).toEqual(t.stack.resolve(t.stack.failedBatches.bucket.bucketArn));
  });

  it.each(['subscriberImport', 'digest', 'publishScheduled'] as const)('runs the asynchronously invoked %s and its retries under the limits', (name) => {
    const inTemplate = t.asyncFunction(name);
    expect(pick(inTemplate, ASYNC_FIELDS)).toEqual(pick(expected[name], ASYNC_FIELDS));
    expect(inTemplate.onFailure).toEqual(t.queueArn(t.failureQueue[name]));
  });

  it('runs the api under the limits', () => {
    expect(t.run(t.byName.api)).toEqual(expected.api);
  });

  it('lets the send worker run as many at once as sendWorkersFor(rate), and gives it the rate to pace and size itself by', () => {
    expect(t.queueConsumer('sendWorker').maximumConcurrency).toBe(sendWorkersFor(rate));
    expect(expected.ses.workers).toBe(sendWorkersFor(rate));
    const env = t.functionProps(t.byName.sendWorker).Environment.Variables;
    expect(env.SES_MAX_SEND_RATE).toBe(String(rate));
    // The worker computes its share from deploymentLimits of the rate; no worker count is passed.
    for (const [, r] of t.ofType('AWS::Lambda::Function')) expect(r.Properties.Environment?.Variables?.SEND_WORKER_CONCURRENCY).toBeUndefined();
  });

  it('drives by a queue or a stream exactly the functions that have such limits, and invokes asynchronously exactly the async ones', () => {
    const driven = (type: string) =>
      Object.entries(t.byName)
        .filter(([, f]) => t.forFunction(type, f).length > 0)
        .map(([name]) => name)
        .sort();
    expect(driven('AWS::Lambda::EventSourceMapping')).toEqual(['feedRebuild', 'sendDeadLetter', 'sendPlanner', 'sendWorker', 'sesEvents', 'subscriberJobs']);
    expect(t.ofType('AWS::Lambda::EventSourceMapping')).toHaveLength(6);
    expect(driven('AWS::Lambda::EventInvokeConfig')).toEqual(['digest', 'publishScheduled', 'subscriberImport']);
    expect(t.ofType('AWS::Lambda::EventInvokeConfig')).toHaveLength(3);
  });

  it('has no Lambda function of its own beyond those the limits describe (CDK\u2019s bucket-notification handler aside)', () => {
    const ours = new Set(Object.values(t.byName).map((f) => t.logicalId(f.fn)));
    const others = t
      .ofType('AWS::Lambda::Function')
      .map(([id]) => id)
      .filter((id) => !ours.has(id));
    expect(others.every((id) => id.startsWith('BucketNotificationsHandler'))).toBe(true);
    expect(ours.size).toBe(Object.keys(t.byName).length);
  });
});

describe('the send worker\u2019s concurrency at different SES rates', () => {
  it('differs between the two rates tested above, so the comparison with sendWorkersFor means something', () => {
    expect(sendWorkersFor(1)).toBe(2);
    expect(sendWorkersFor(500)).toBeGreaterThan(sendWorkersFor(1));
    expect(deploymentLimits(500).sendWorker.maximumConcurrency).toBe(sendWorkersFor(500));
  });
});

/**
 * The local runtime runs under what the template says: `GET /_dev/limits`, read back from its queues and
 * stream pollers, against the synthesized template at the same SES rate, field by field.
 */
describe('the local runtime and the template at the same SES rate', () => {
  let t: ReturnType<typeof view>;
  let local: Record<string, Record<string, unknown>>;
  let rt: TestRuntime | undefined;

  beforeAll(async () => {
    t = view(synthesize({ example: 'true', sesMaxSendRate: '14' }));
    rt = await startTestRuntime({ SES_MAX_SEND_RATE: '14' });
    const res = await rt.get('/_dev/limits');
    expect(res.status).toBe(200);
    local = await res.json();
  }, 120_000);
  afterAll(async () => rt?.cleanup());

  it.each(['sendWorker', 'sesEvents', 'subscriberJobs'] as const)(
    'emulates the queue-driven %s: timeout, batch size, concurrency, visibility, receives',
    (name) => {
      const fields = ['timeoutSeconds', 'batchSize', 'maxBatchingWindowSeconds', 'maximumConcurrency', 'visibilityTimeoutSeconds', 'maxReceiveCount'] as const;
      expect(pick(local[name]!, fields)).toEqual(pick(t.queueConsumer(name), fields));
    },
  );

  it.each(['sendPlanner', 'feedRebuild'] as const)('emulates the stream-driven %s: timeout, batch size, batching window, retries', (name) => {
    const fields = ['timeoutSeconds', 'batchSize', 'maxBatchingWindowSeconds', 'retryAttempts'] as const;
    expect(pick(local[name]!, fields)).toEqual(pick(t.streamConsumer(name), fields));
  });

  it.each(['subscriberImport', 'digest'] as const)('invokes the asynchronous %s as the template does', (name) => {
    expect(pick(local[name]!, ASYNC_FIELDS)).toEqual(pick(t.asyncFunction(name), ASYNC_FIELDS));
  });

  it('paces the worker as the deployment does: reserve, calls in flight, recipients per message, the shared SES rate', () => {
    expect(local.sendWorker).toMatchObject({ reserveSeconds: 30, inFlight: 8, recipientsPerMessage: 50 });
    expect(local.ses).toMatchObject({ accountRate: 14, workers: t.queueConsumer('sendWorker').maximumConcurrency, apiCountsAgainstRate: true });
  });
});
