import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { AsyncLimits, QueueConsumerLimits, StreamConsumerLimits } from '../limits.ts';
import type { InkwireFunction } from './inkwire-function.ts';

/**
 * How a function is driven, built from its entry in `deploymentLimits(...)` (infra/limits.ts) and from
 * nothing else: the numbers of an event source or of asynchronous invocation live there, so that the
 * template and the local runtime, which runs the same handlers under the same limits, cannot disagree.
 */

/**
 * An SQS event source: batches of `batchSize` (gathered for up to `maxBatchingWindowSeconds`), at most
 * `maximumConcurrency` invocations at once, partial batch failures reported. The queue itself (its
 * visibility timeout and redrive) is built from the same limits by whoever owns it.
 */
export function consumeQueue(f: InkwireFunction, queue: IQueue, limits: QueueConsumerLimits): void {
  // Lambda refuses an SQS event source whose function may run longer than the queue hides a message.
  if (limits.timeoutSeconds > limits.visibilityTimeoutSeconds) {
    throw new Error(
      `${f.node.path}: a timeout of ${limits.timeoutSeconds} s exceeds its queue's visibility timeout of ${limits.visibilityTimeoutSeconds} s (infra/limits.ts)`,
    );
  }
  f.fn.addEventSource(
    new SqsEventSource(queue, {
      batchSize: limits.batchSize,
      maxBatchingWindow: Duration.seconds(limits.maxBatchingWindowSeconds),
      maxConcurrency: limits.maximumConcurrency,
      reportBatchItemFailures: true,
    }),
  );
}

export interface StreamOptions {
  /** Event filter patterns (`FilterCriteria.filter(...)`), so the function only sees its records. */
  filters: Array<Record<string, unknown>>;
  /** Where a batch goes once its retries or its age are spent. */
  onFailure: IQueue;
}

/**
 * A DynamoDB stream event source from the oldest record kept, with bisection on error, bounded retries
 * and record age, partial batch failures reported, and an on-failure queue.
 */
export function consumeStream(f: InkwireFunction, table: ITable, limits: StreamConsumerLimits, options: StreamOptions): void {
  f.fn.addEventSource(
    new DynamoEventSource(table, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: limits.batchSize,
      maxBatchingWindow: Duration.seconds(limits.maxBatchingWindowSeconds),
      bisectBatchOnError: limits.bisectBatchOnError,
      retryAttempts: limits.retryAttempts,
      maxRecordAge: Duration.seconds(limits.maxRecordAgeSeconds),
      parallelizationFactor: limits.parallelizationFactor,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(options.onFailure),
      filters: options.filters,
    }),
  );
}

/**
 * Asynchronous invocation (EventBridge Scheduler, S3 notifications): Lambda retries a failed event
 * `retryAttempts` times while it is younger than `maxEventAgeSeconds`, then sends it to `onFailure`
 * (the function's role may send to that queue, as CDK grants for the destination).
 */
export function invokeAsync(f: InkwireFunction, limits: AsyncLimits, onFailure: IQueue): void {
  f.fn.configureAsyncInvoke({
    retryAttempts: limits.retryAttempts,
    maxEventAge: Duration.seconds(limits.maxEventAgeSeconds),
    onFailure: new SqsDestination(onFailure),
  });
}
