import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeploymentLimits } from '../limits.ts';

export interface QueuesProps {
  /**
   * The deployment's limits: the send queue's visibility timeout and receives before its dead-letter
   * queue come from its consumer's (`sendWorker`), the dead-letter queue's from `sendDeadLetter`.
   */
  limits: Pick<DeploymentLimits, 'sendWorker' | 'sendDeadLetter'>;
}

/**
 * The send queue with its dead-letter queue, and the queue that receives what the
 * digest schedules and the asynchronously invoked digest and publish-scheduled functions finally give up
 * on. All are encrypted (SQS-managed keys) and refuse plain HTTP.
 */
export class Queues extends Construct {
  readonly send: Queue;
  readonly sendDeadLetter: Queue;
  readonly failedEvents: Queue;

  constructor(scope: Construct, id: string, props: QueuesProps) {
    super(scope, id);

    // Its consumer's limits (`sendDeadLetter`): SQS's default visibility timeout, which the handler runs
    // well inside, and no redrive of its own: a dead letter the handler cannot settle stays here (14 days)
    // and is tried again.
    const { sendDeadLetter } = props.limits;
    if (Number.isFinite(sendDeadLetter.maxReceiveCount)) {
      throw new Error(
        `the send dead-letter queue has no dead-letter queue of its own: sendDeadLetter.maxReceiveCount must stay unbounded (infra/limits.ts), got ${sendDeadLetter.maxReceiveCount}`,
      );
    }
    this.sendDeadLetter = new Queue(this, 'SendDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(sendDeadLetter.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.sendDeadLetter).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This queue is itself the send queue\u2019s dead-letter queue: its consumer settles each given-up batch, and one it cannot settle must stay here (14 days) to be tried again, not move on. Both the messages received and the messages left here alarm.',
    });

    // The visibility timeout follows Lambda's guidance for SQS event sources (six function timeouts plus
    // the batching window, see `visibilityFor`), so a message is not handed to a second worker while the
    // first, throttled and retried by Lambda, still holds it.
    const { sendWorker } = props.limits;
    this.send = new Queue(this, 'SendQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(sendWorker.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.sendDeadLetter, maxReceiveCount: sendWorker.maxReceiveCount },
    });

    this.failedEvents = new Queue(this, 'FailedEventsQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failedEvents).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the on-failure destination of the digest schedules and of the digest and publish-scheduled functions\u2019 asynchronous invocations. SQS3 only recognizes queues named in another queue\u2019s redrive policy.',
    });
    Validations.of(this.failedEvents).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This queue is itself a dead-letter queue (the end of the line for the digest schedules and the digest and publish-scheduled functions\u2019 failed asynchronous invocations); a redrive policy on it would only move failures one queue further. Its messages are kept 14 days and alarmed on, and are redriven by hand after the fix.',
    });
  }
}
