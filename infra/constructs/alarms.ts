import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Operation, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * SES reviews an account at a 5% bounce rate and a 0.1% complaint rate (and may pause sending at 10%
 * and 0.5%), so the alarms fire at the review thresholds, while there is still time to act.
 */
export const SES_BOUNCE_RATE_THRESHOLD = 0.05;
export const SES_COMPLAINT_RATE_THRESHOLD = 0.001;
/** A send message older than this means the worker is stuck or throttled far below the configured rate. */
export const SEND_BACKLOG_AGE = Duration.hours(1);
/** More API 5xx answers than this in five minutes alarm (one now and then is a cold start or a retry away). */
export const API_SERVER_ERRORS_THRESHOLD = 5;
/** A stream consumer whose oldest record waits longer than this is falling behind (feeds and sends go out late). */
export const STREAM_ITERATOR_AGE = Duration.minutes(5);
/** The DynamoDB operations the functions use, whose throttled requests alarm (CloudWatch allows 10 metrics per alarm). */
export const TABLE_OPERATIONS = [
  Operation.GET_ITEM,
  Operation.PUT_ITEM,
  Operation.UPDATE_ITEM,
  Operation.QUERY,
  Operation.BATCH_GET_ITEM,
  Operation.BATCH_WRITE_ITEM,
  Operation.TRANSACT_WRITE_ITEMS,
];
/**
 * The table's throttled requests, summed over {@link TABLE_OPERATIONS}. DynamoDB publishes ThrottledRequests
 * per operation only when one is throttled, and metric math's `+` drops a timestamp missing from either
 * side, so each series is filled with 0 first (CDK's `metricThrottledRequestsForOperations` does not).
 */
export function tableThrottledRequests(table: ITable, period: Duration): MathExpression {
  const byOperation = Object.fromEntries(
    TABLE_OPERATIONS.map((operation) => [
      operation.toLowerCase(),
      new Metric({
        namespace: 'AWS/DynamoDB',
        metricName: 'ThrottledRequests',
        dimensionsMap: { TableName: table.tableName, Operation: operation },
        statistic: 'Sum',
        period,
      }),
    ]),
  );
  return new MathExpression({
    expression: Object.keys(byOperation)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics: byOperation,
    label: 'throttled requests (all operations)',
    period,
  });
}

/** When the monthly budget notifies: at 80% and 100% of actual cost, and when the forecast passes 100%. */
export const BUDGET_NOTIFICATIONS = [
  { notificationType: 'ACTUAL', threshold: 80 },
  { notificationType: 'ACTUAL', threshold: 100 },
  { notificationType: 'FORECASTED', threshold: 100 },
] as const;

/**
 * An alarm that fires when the metric goes above `threshold` (default 0: any error, any message given
 * up) in one period, to the alarm topic on alarm and on recovery. No data means nothing happened (no
 * sends, no invocations), which is not a problem.
 */
export function aboveThresholdAlarm(scope: Construct, id: string, topic: ITopic, options: { description: string; metric: IMetric; threshold?: number }): Alarm {
  const alarm = new Alarm(scope, id, {
    alarmDescription: options.description,
    metric: options.metric,
    threshold: options.threshold ?? 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new SnsAction(topic));
  alarm.addOkAction(new SnsAction(topic));
  return alarm;
}

export interface AlarmsProps {
  alarmEmail?: string | undefined;
  /** Errors and throttles of each alarm (more with {@link Alarms.watchFunctions}). */
  functions: Record<string, IFunction>;
  deadLetterQueues: Record<string, IQueue>;
  sendQueue: IQueue;
  /** The functions the table's stream drives: their IteratorAge alarms. */
  streamConsumers: Record<string, IFunction>;
  /** The HTTP API behind CloudFront: its 5xx answers alarm. */
  httpApi: IHttpApi;
  /** The table: its throttled requests alarm. */
  table: ITable;
  /** The SES events topic: deliveries to its queue that failed for good alarm. */
  sesEventsTopic: ITopic;
  /** The account's monthly cost budget in US dollars (AWS Budgets), notifying this topic. */
  monthlyBudgetUsd: number;
}

/** CloudWatch alarms and the monthly AWS budget to one SNS topic, with an optional email subscription. */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly budget: CfnBudget;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'Inkwire alarms', enforceSSL: true });
    if (props.alarmEmail) {
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      // The email subscription is created in the topic's scope.
      Validations.of(this.topic).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'The alarm email subscription: an alarm message that cannot be emailed is not lost (every alarm keeps its state and history in CloudWatch, and the Inkwire dashboard shows the metrics), and a redrive queue of undelivered alarm emails would have no reader.',
      });
    }

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.add(`${name}MessagesVisible`, {
        description: `Messages are waiting in the ${name} dead-letter queue: something failed for good and needs a look (redrive after the fix).`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 0,
      });
    }

    for (const [name, fn] of Object.entries(props.functions)) {
      this.add(`${name}Errors`, {
        description: `The ${name} function failed (an uncaught error, a timeout or running out of memory).`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
      });
    }
    this.watchFunctions(props.functions);

    for (const [name, fn] of Object.entries(props.streamConsumers)) {
      this.add(`${name}IteratorAge`, {
        description: `The ${name} function is more than ${STREAM_ITERATOR_AGE.toHumanString()} behind the table's stream (its oldest record's age): it is failing and retrying a batch, or too slow. Look at its errors and logs; records older than the event source's maximum age go to the failed-batches bucket.`,
        // Lambda reports the age in milliseconds.
        metric: fn.metric('IteratorAge', { period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: STREAM_ITERATOR_AGE.toMilliseconds(),
      });
    }

    this.add('ApiServerErrors', {
      description: `The HTTP API answered more than ${API_SERVER_ERRORS_THRESHOLD} requests with a 5xx in five minutes: the api function fails or times out (see its logs and errors), or API Gateway cannot reach it.`,
      metric: props.httpApi.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: API_SERVER_ERRORS_THRESHOLD,
    });

    this.add('TableThrottles', {
      description:
        'DynamoDB throttled requests to the table (on demand, so a hot partition or the account’s table limits): writes and reads are retried by the SDK, then fail. Look at which operation in the dashboard, and at the table’s CloudWatch Contributor Insights.',
      metric: tableThrottledRequests(props.table, Duration.minutes(5)),
      threshold: 0,
    });

    this.add('SesEventsDeliveryFailures', {
      description:
        'SNS could not deliver SES events (deliveries, bounces, complaints) to the events queue for good: the queue or its policy is broken. Bounces and complaints are being missed: redeploy the service stack.',
      metric: props.sesEventsTopic.metricNumberOfNotificationsFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 0,
    });

    // AWS Budgets publishes to the topic: its policy must let budgets.amazonaws.com publish, for this account.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AwsBudgetsPublish',
        principals: [new ServicePrincipal('budgets.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.budget = new CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `${Stack.of(this).stackName}-monthly`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyBudgetUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: BUDGET_NOTIFICATIONS.map((n) => ({
        notification: { notificationType: n.notificationType, comparisonOperator: 'GREATER_THAN', threshold: n.threshold, thresholdType: 'PERCENTAGE' },
        subscribers: [{ subscriptionType: 'SNS', address: this.topic.topicArn }],
      })),
    });

    this.add('SendBacklog', {
      description: `The oldest message in the send queue is over ${SEND_BACKLOG_AGE.toHumanString()} old: sending is stuck or far slower than planned.`,
      metric: props.sendQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: SEND_BACKLOG_AGE.toSeconds(),
    });

    // Account-level reputation metrics that SES publishes for the region (no dimensions).
    const reputation = (metricName: string) => new Metric({ namespace: 'AWS/SES', metricName, statistic: 'Maximum', period: Duration.hours(1) });
    this.add('SesBounceRate', {
      description: `SES bounce rate above ${SES_BOUNCE_RATE_THRESHOLD * 100}%: SES reviews the account at this level and can pause sending at 10%. Check list hygiene and the suppression of hard bounces.`,
      metric: reputation('Reputation.BounceRate'),
      threshold: SES_BOUNCE_RATE_THRESHOLD,
    });
    this.add('SesComplaintRate', {
      description: `SES complaint rate above ${SES_COMPLAINT_RATE_THRESHOLD * 100}%: SES reviews the account at this level and can pause sending at 0.5%. Check that unsubscribing is easy and that only confirmed subscribers are mailed.`,
      metric: reputation('Reputation.ComplaintRate'),
      threshold: SES_COMPLAINT_RATE_THRESHOLD,
    });
  }

  /** Throttles of each function alarm (Lambda refused an invocation: the account's or the function's concurrency is used up). */
  watchFunctions(functions: Record<string, IFunction>): void {
    for (const [name, fn] of Object.entries(functions)) {
      this.add(`${name}Throttles`, {
        description: `Lambda throttled the ${name} function: the account’s concurrency (or the function’s) is used up. Queue and stream messages wait and are retried, scheduled runs are retried for hours, API requests fail with a 5xx. Ask for a higher concurrency quota, or look for a runaway function.`,
        metric: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
      });
    }
  }

  private add(id: string, options: { description: string; metric: IMetric; threshold: number }): void {
    this.alarms.push(aboveThresholdAlarm(this, id, this.topic, options));
  }
}
