import { Duration, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { DlqDestinationConfig, IEventSourceDlq, IEventSourceMapping, IFunction } from 'aws-cdk-lib/aws-lambda';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
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
  const redriven = 'deadLetterQueue' in queue && queue.deadLetterQueue !== undefined;
  const keptBy = redriven
    ? 'a message that keeps failing is moved by the queue’s redrive policy to its dead-letter queue, which alarms'
    : 'a message that cannot be handled stays in this queue (itself a dead-letter queue, no redrive of its own) to be tried again, and its alarms watch it';
  Validations.of(f.fn).acknowledge(
    {
      id: 'Serverless-LambdaDLQ',
      reason: `Invoked only by its SQS event source mapping, never asynchronously, so a Lambda dead-letter queue (which only receives failed asynchronous invocations) would stay empty: ${keptBy}.`,
    },
    {
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: `Lambda takes an on-failure destination only for stream and Kafka event sources, not for SQS: ${keptBy}.`,
    },
  );
}

/**
 * An S3 on-failure destination granting only what Lambda needs to write there (s3:PutObject on the
 * objects, s3:ListBucket on the bucket), where CDK's `S3OnFailureDestination` grants read and write.
 */
class S3OnFailure implements IEventSourceDlq {
  constructor(private readonly bucket: IBucket) {}

  bind(_target: IEventSourceMapping, targetHandler: IFunction): DlqDestinationConfig {
    targetHandler.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects('*')] }));
    targetHandler.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    const bucketId = Stack.of(this.bucket).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    if (targetHandler.role) {
      Validations.of(targetHandler.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
        reason:
          'Lambda names each failed-batch object at run time (aws/lambda/<mapping>/<shard>/<date>/...); the role may only put objects into the failed-batches bucket, not read or delete them.',
      });
    }
    return { destination: this.bucket.bucketArn };
  }
}

export interface StreamOptions {
  /** Event filter patterns (`FilterCriteria.filter(...)`), so the function only sees its records. */
  filters: Array<Record<string, unknown>>;
  /** Where a batch goes once its retries or its age are spent: the bucket keeps its records, for a replay. */
  onFailure: IBucket;
}

/**
 * A DynamoDB stream event source from the oldest record kept, with bisection on error, bounded retries
 * and record age, partial batch failures reported, and an on-failure bucket (which, unlike a queue, gets
 * the records themselves, so a batch can be replayed after the stream's 24 hours).
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
      onFailure: new S3OnFailure(options.onFailure),
      filters: options.filters,
    }),
  );
  Validations.of(f.fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Invoked only by its DynamoDB stream event source mapping, never asynchronously, so a Lambda dead-letter queue would stay empty; a batch it gives up on goes to the mapping’s own on-failure destination, with its records.',
  });
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
  Validations.of(f.fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Failed asynchronous invocations go to the on-failure destination of its event invoke configuration (a dead-letter queue that alarms), which supersedes the older DeadLetterConfig and keeps the request, the response and the error together.',
  });
}
