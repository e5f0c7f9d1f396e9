import { CfnOutput, Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueConsumerLimits } from '../limits.ts';
import { aboveThresholdAlarm } from './alarms.ts';
import { consumeQueue } from './event-sources.ts';
import { InkwireFunction } from './inkwire-function.ts';

/**
 * What settling a given-up batch does to the table, and nothing more: read the send (GetItem), claim the
 * missing delivery records and count the batch (transactions of PutItem and UpdateItem), move records
 * on (UpdateItem), and recount the ledger of a send that stopped meanwhile (Query of its partition). The
 * table only: no index is read.
 */
export const SEND_DEAD_LETTER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

export interface SendDeadLetterProps {
  table: ITable;
  /** The send queue's dead-letter queue. */
  deadLetterQueue: IQueue;
  /** The shared settings every function gets (the handler needs `TABLE_NAME` and the site settings). */
  environment: Record<string, string>;
  /** Where its alarms go. */
  alarmTopic: ITopic;
  /**
   * `sendDeadLetter` of the deployment's limits: the handler's timeout (under the dead-letter queue's
   * visibility timeout, SQS's default, as Lambda requires of an SQS event source) and memory, its batch
   * size and its concurrency (the least Lambda allows: dead letters are rare and never urgent).
   */
  limits: QueueConsumerLimits;
}

/**
 * The consumer of the send dead-letter queue: each batch the send worker gave up on is settled (its
 * recipients reported `failed` or `uncertain`, the batch counted once) so its send completes instead of
 * waiting in `sending`. A message it cannot settle stays in the queue and is tried again.
 *
 * The dead-letter queue's own alarm (messages visible) stays; with a consumer draining the queue at
 * once, it only sees messages this handler could not settle. So that a batch reaching the queue still
 * alarms, another alarm counts the messages received from it; a third, the handler's errors.
 */
export class SendDeadLetter extends Construct {
  readonly handler: InkwireFunction;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: SendDeadLetterProps) {
    super(scope, id);

    this.handler = new InkwireFunction(this, 'Handler', {
      entry: 'sendDeadLetter',
      description: 'Settles send batches given up after their last receive (send DLQ): recipients failed or uncertain, batch counted',
      limits: props.limits,
      environment: props.environment,
      statements: [new PolicyStatement({ actions: [...SEND_DEAD_LETTER_TABLE_ACTIONS], resources: [props.table.tableArn] })],
    });
    consumeQueue(this.handler, props.deadLetterQueue, props.limits);

    this.alarms.push(
      aboveThresholdAlarm(this, 'GivenUpBatches', props.alarmTopic, {
        description:
          'A send batch was given up after its last receive and reached the send dead-letter queue. Its recipients are reported failed (GivenUp; POST /api/sends/{id}/resume tries them again) or uncertain, and its send completes (or pauses past the error threshold). Look at the send worker\u2019s logs for the cause.',
        metric: props.deadLetterQueue.metricNumberOfMessagesReceived({ period: Duration.minutes(5), statistic: 'Sum' }),
      }),
    );
    this.alarms.push(
      aboveThresholdAlarm(this, 'Errors', props.alarmTopic, {
        description:
          'The send dead-letter handler failed (an uncaught error, a timeout or running out of memory); the dead letters stay in the queue and are tried again.',
        metric: this.handler.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      }),
    );

    new CfnOutput(this, 'LogGroup', {
      description: 'Logs of the send dead-letter handler (aws logs tail <name> --follow)',
      value: this.handler.logGroup.logGroupName,
    });
  }
}
