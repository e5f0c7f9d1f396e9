import { Duration, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  Metric,
  TextWidget,
  type HorizontalAnnotation,
  type IAlarm,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS, METRICS_NAMESPACE, SERVICE_NAME, SUBSCRIBE_OUTCOMES, type MetricName } from '../../lambdas/compose/observability.ts';
import { SES_BOUNCE_RATE_THRESHOLD, SES_COMPLAINT_RATE_THRESHOLD, STREAM_ITERATOR_AGE, TABLE_OPERATIONS } from './alarms.ts';

/** The dashboard's name is `Inkwire-<region>` (CloudWatch dashboards are global to the account; Inkwire runs once per region). */
export const DASHBOARD_NAME_PREFIX = 'Inkwire';

export interface OperationsDashboardProps {
  /** Every function, by role: errors, throttles and durations. */
  functions: Record<string, IFunction>;
  /** The stream-driven functions: their iterator age. */
  streamConsumers: Record<string, IFunction>;
  sendQueue: IQueue;
  /** The SES events queue (SNS to the SesEvents function). */
  sesEventsQueue: IQueue;
  deadLetterQueues: Record<string, IQueue>;
  httpApi: IHttpApi;
  table: ITable;
  sesEventsTopic: ITopic;
  /** SES configuration set names, for their own reputation metrics. */
  configurationSets: string[];
  /** Shown at the top, with their state. */
  alarms: IAlarm[];
}

const FIVE_MINUTES = Duration.minutes(5);

/** One of Inkwire's own metrics (Powertools EMF from the functions): namespace Inkwire, dimension service. */
export function inkwireMetric(name: MetricName, options: { statistic?: string; label?: string; dimensions?: Record<string, string> } = {}): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICE_NAME, ...options.dimensions },
    statistic: options.statistic ?? 'Sum',
    period: FIVE_MINUTES,
    ...(options.label ? { label: options.label } : {}),
  });
}

/**
 * The operations dashboard: what Inkwire sent and how SES took it, the queues, the functions, the API and
 * the table, with every alarm's state on top. Graphs read the same metrics the alarms watch, plus
 * Inkwire's own (namespace `Inkwire`): emails submitted, throttled and failed, subscribe outcomes, feed
 * rebuild time.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${DASHBOARD_NAME_PREFIX}-${region}`,
      defaultInterval: Duration.days(1),
    });

    const graph = (
      title: string,
      left: IMetric[],
      more: { right?: IMetric[]; leftAnnotations?: HorizontalAnnotation[]; width?: number; stacked?: boolean } = {},
    ) => new GraphWidget({ title, left, width: more.width ?? 8, height: 6, period: FIVE_MINUTES, ...more });
    const perFunction = (metric: (fn: IFunction, name: string) => IMetric) => Object.entries(props.functions).map(([name, fn]) => metric(fn, name));

    // SES account-level metrics (no dimensions), and the reputation of each configuration set.
    const ses = (metricName: string, statistic: string, dimensionsMap?: Record<string, string>, label?: string) =>
      new Metric({
        namespace: 'AWS/SES',
        metricName,
        statistic,
        period: Duration.hours(1),
        ...(dimensionsMap ? { dimensionsMap } : {}),
        ...(label ? { label } : {}),
      });
    const reputation = (metricName: string) => [
      ses(metricName, 'Maximum', undefined, 'account'),
      ...props.configurationSets.map((set) => ses(metricName, 'Maximum', { 'ses:configuration-set': set }, set)),
    ];

    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          '# Inkwire\nSends, SES reputation, queues, functions, API and table. Every alarm notifies the alarm topic (`AlarmTopicArn` output); what each means and what to do: README, *Operations*. Logs: Logs Insights on the function log groups, by `send_id` or `function_request_id`.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 24, height: 4 }));

    this.dashboard.addWidgets(
      graph('Emails (calls to SES)', [
        inkwireMetric(METRICS.emailsSubmitted, { label: 'submitted' }),
        inkwireMetric(METRICS.emailsThrottled, { label: 'throttled (retried)' }),
        inkwireMetric(METRICS.emailsFailed, { label: 'failed' }),
      ]),
      graph(
        'Subscribe outcomes',
        SUBSCRIBE_OUTCOMES.map((outcome) => inkwireMetric(METRICS.subscribes, { label: outcome, dimensions: { outcome } })),
        { stacked: true },
      ),
      graph(
        'Feed rebuilds',
        [
          inkwireMetric(METRICS.feedRebuildTime, { statistic: 'p50', label: 'rebuild time p50 (ms)' }),
          inkwireMetric(METRICS.feedRebuildTime, { statistic: 'Maximum', label: 'rebuild time max (ms)' }),
        ],
        { right: [inkwireMetric(METRICS.feedsRebuilt, { label: 'feeds rebuilt' }), inkwireMetric(METRICS.feedRebuildFailed, { label: 'failed batches' })] },
      ),
    );

    this.dashboard.addWidgets(
      graph('SES bounce rate', reputation('Reputation.BounceRate'), {
        width: 8,
        leftAnnotations: [{ value: SES_BOUNCE_RATE_THRESHOLD, label: 'alarm (SES review)' }],
      }),
      graph('SES complaint rate', reputation('Reputation.ComplaintRate'), {
        width: 8,
        leftAnnotations: [{ value: SES_COMPLAINT_RATE_THRESHOLD, label: 'alarm (SES review)' }],
      }),
      graph(
        'SES sending (account)',
        ['Send', 'Delivery', 'Bounce', 'Complaint', 'Reject'].map((m) => ses(m, 'Sum')),
      ),
    );

    this.dashboard.addWidgets(
      graph(
        'Send queue',
        [
          props.sendQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: 'waiting' }),
          props.sendQueue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', label: 'in flight' }),
        ],
        {
          right: [props.sendQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', label: 'oldest (s)' })],
        },
      ),
      graph('SES events queue', [props.sesEventsQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: 'waiting' })], {
        right: [props.sesEventsQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', label: 'oldest (s)' })],
      }),
      graph(
        'Dead-letter queues (messages waiting)',
        Object.entries(props.deadLetterQueues).map(([name, q]) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: name })),
      ),
    );

    this.dashboard.addWidgets(
      graph(
        'Function errors',
        perFunction((fn, name) => fn.metricErrors({ statistic: 'Sum', label: name })),
      ),
      graph(
        'Function throttles',
        perFunction((fn, name) => fn.metricThrottles({ statistic: 'Sum', label: name })),
      ),
      graph(
        'Function duration p90 (ms)',
        perFunction((fn, name) => fn.metricDuration({ statistic: 'p90', label: name })),
      ),
    );

    this.dashboard.addWidgets(
      graph(
        'Stream iterator age (ms)',
        Object.entries(props.streamConsumers).map(([name, fn]) => fn.metric('IteratorAge', { statistic: 'Maximum', label: name })),
        { leftAnnotations: [{ value: STREAM_ITERATOR_AGE.toMilliseconds(), label: 'alarm' }] },
      ),
      graph('HTTP API requests', [
        props.httpApi.metricCount({ label: 'requests' }),
        props.httpApi.metricClientError({ label: '4xx' }),
        props.httpApi.metricServerError({ label: '5xx' }),
      ]),
      graph('HTTP API latency (ms)', [
        props.httpApi.metricLatency({ statistic: 'p50', label: 'p50' }),
        props.httpApi.metricLatency({ statistic: 'p90', label: 'p90' }),
        props.httpApi.metricLatency({ statistic: 'p99', label: 'p99' }),
      ]),
    );

    this.dashboard.addWidgets(
      graph(
        'DynamoDB throttled requests',
        TABLE_OPERATIONS.map(
          (operation) =>
            new Metric({
              namespace: 'AWS/DynamoDB',
              metricName: 'ThrottledRequests',
              dimensionsMap: { TableName: props.table.tableName, Operation: operation },
              statistic: 'Sum',
              period: FIVE_MINUTES,
              label: operation,
            }),
        ),
        {
          right: [
            props.table.metric('ReadThrottleEvents', { statistic: 'Sum', label: 'read throttle events' }),
            props.table.metric('WriteThrottleEvents', { statistic: 'Sum', label: 'write throttle events' }),
          ],
        },
      ),
      graph('DynamoDB consumed capacity', [
        props.table.metricConsumedReadCapacityUnits({ label: 'read units' }),
        props.table.metricConsumedWriteCapacityUnits({ label: 'write units' }),
      ]),
      graph('SES events to the events queue', [
        props.sesEventsTopic.metricNumberOfNotificationsDelivered({ label: 'delivered' }),
        props.sesEventsTopic.metricNumberOfNotificationsFailed({ label: 'failed' }),
      ]),
    );
  }
}
