import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
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
  functions: Record<string, IFunction>;
  deadLetterQueues: Record<string, IQueue>;
  sendQueue: IQueue;
}

/** CloudWatch alarms to one SNS topic, with an optional email subscription. */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'Inkwire alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

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

    this.add('SendBacklog', {
      description: `The oldest message in the send queue is over ${SEND_BACKLOG_AGE.toHumanString()} old: sending is stuck or far slower than planned.`,
      metric: props.sendQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: SEND_BACKLOG_AGE.toSeconds(),
    });

    // Account-level reputation metrics that SES publishes for the region (no dimensions).
    const reputation = (metricName: string) =>
      new Metric({ namespace: 'AWS/SES', metricName, statistic: 'Maximum', period: Duration.hours(1) });
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

  private add(id: string, options: { description: string; metric: IMetric; threshold: number }): void {
    this.alarms.push(aboveThresholdAlarm(this, id, this.topic, options));
  }
}
