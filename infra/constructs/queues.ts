import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface QueuesProps {
  /** Timeout of the function that consumes the send queue; the queue's visibility timeout derives from it. */
  sendWorkerTimeout: Duration;
  /** The worker's event source batching window, which also counts against the visibility timeout. */
  sendWorkerBatchingWindow: Duration;
}

/** Receives after which a send message is parked in the dead-letter queue. */
export const SEND_MAX_RECEIVE_COUNT = 5;

/**
 * The send queue with its dead-letter queue, and the queue that receives what the stream consumers and
 * the digest schedules finally give up on. All are encrypted (SQS-managed keys) and refuse plain HTTP.
 */
export class Queues extends Construct {
  readonly send: Queue;
  readonly sendDeadLetter: Queue;
  readonly failedEvents: Queue;

  constructor(scope: Construct, id: string, props: QueuesProps) {
    super(scope, id);

    this.sendDeadLetter = new Queue(this, 'SendDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    // Lambda's guidance for SQS event sources: a visibility timeout of at least six times the function
    // timeout plus the batching window, so a message is not handed to a second worker while the first,
    // throttled and retried by Lambda, still holds it.
    const visibility = props.sendWorkerTimeout.toSeconds() * 6 + props.sendWorkerBatchingWindow.toSeconds() + 30;
    this.send = new Queue(this, 'SendQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(visibility),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.sendDeadLetter, maxReceiveCount: SEND_MAX_RECEIVE_COUNT },
    });

    this.failedEvents = new Queue(this, 'FailedEventsQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failedEvents).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself a dead-letter queue: the on-failure destination of the stream event source mappings and of the digest schedules. SQS3 only recognizes queues named in another queue\u2019s redrive policy.',
    });
  }
}
