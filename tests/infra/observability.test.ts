import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkRecordedContext, ConfigError, parseConfig } from '../../infra/config.ts';
import { API_SERVER_ERRORS_THRESHOLD, STREAM_ITERATOR_AGE, TABLE_OPERATIONS } from '../../infra/constructs/alarms.ts';
import type { InkwireFunction } from '../../infra/constructs/inkwire-function.ts';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

type Json = any; // CloudFormation JSON: the assertions below check the shapes they rely on.

/** A production configuration with a budget of its own, so the budget's amount is seen to come from the setting. */
const CONTEXT = { ...PRODUCTION_CONTEXT, monthlyBudgetUsd: '120' };

let s: Synthesized;
let json: Json;
beforeAll(() => {
  s = synthesize(CONTEXT);
  json = Template.fromStack(s.service).toJSON();
});

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const resourcesOf = (type: string): [string, Json][] => Object.entries<Json>(json.Resources).filter(([, r]) => r.Type === type);
const alarms = () => resourcesOf('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
const alarmTopic = () => ({ Ref: logicalId(s.service, s.service.alarms.topic) });
/** Every function Inkwire runs (CDK's own deploy-time handlers aside). */
const allFunctions = (): Record<string, InkwireFunction> => ({
  ...s.service.functions,
  sendDeadLetter: s.service.sendDeadLetter.handler,
  subscriberImport: s.service.subscriberJobs.importFunction,
  subscriberJobs: s.service.subscriberJobs.jobsFunction,
});
const fnRef = (f: InkwireFunction) => logicalId(s.service, f.fn);

describe('X-Ray tracing', () => {
  it('traces every Inkwire function actively, and lets each role send its traces and nothing more with them', () => {
    const functions = Object.values(allFunctions());
    expect(functions).toHaveLength(10);
    for (const f of functions) {
      expect(json.Resources[fnRef(f)].Properties.TracingConfig).toEqual({ Mode: 'Active' });
      const roleId = logicalId(s.service, f.role);
      const xray = resourcesOf('AWS::IAM::Policy')
        .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement)
        .filter((st: Json) => [st.Action].flat().some((a: string) => a.startsWith('xray:')));
      expect(xray).toEqual([expect.objectContaining({ Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' })]);
    }
  });
});

describe('alarms added for operations', () => {
  const expectToTopic = (a: Json) =>
    expect(a).toMatchObject({
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [alarmTopic()],
      OKActions: [alarmTopic()],
      TreatMissingData: 'notBreaching',
    });

  it('alarms on API Gateway 5xx answers of the HTTP API', () => {
    const [api5xx, ...more] = alarms().filter((a) => a.Namespace === 'AWS/ApiGateway' && a.MetricName === '5xx');
    expect(more).toEqual([]);
    expect(api5xx.Dimensions).toEqual([{ Name: 'ApiId', Value: { Ref: logicalId(s.service, s.service.edge.httpApi) } }]);
    expect(api5xx).toMatchObject({ Statistic: 'Sum', Period: 300, Threshold: API_SERVER_ERRORS_THRESHOLD });
    expectToTopic(api5xx);
  });

  it('alarms on throttles of each of the ten functions', () => {
    const throttles = alarms().filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Throttles');
    expect(throttles.map((a) => a.Dimensions[0].Value.Ref).sort()).toEqual(Object.values(allFunctions()).map(fnRef).sort());
    for (const a of throttles) {
      expect(a).toMatchObject({ Statistic: 'Sum', Threshold: 0 });
      expectToTopic(a);
    }
  });

  it('alarms when a stream consumer (feed rebuild, send planner) falls more than five minutes behind the stream', () => {
    const ages = alarms().filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'IteratorAge');
    const { feedRebuild, sendPlanner } = s.service.functions;
    expect(ages.map((a) => a.Dimensions[0].Value.Ref).sort()).toEqual([fnRef(feedRebuild), fnRef(sendPlanner)].sort());
    for (const a of ages) {
      // IteratorAge is in milliseconds.
      expect(a).toMatchObject({ Statistic: 'Maximum', Threshold: STREAM_ITERATOR_AGE.toMilliseconds() });
      expect(a.Threshold).toBe(300_000);
      expectToTopic(a);
    }
  });

  it('alarms on any throttled request to the table, summing every operation the code uses with gaps filled', () => {
    const tableAlarms = alarms().filter((a) => JSON.stringify(a.Metrics ?? []).includes('ThrottledRequests'));
    expect(tableAlarms).toHaveLength(1);
    const a = tableAlarms[0];
    expect(a.Threshold).toBe(0);
    expectToTopic(a);
    const [expression, ...series] = a.Metrics;
    expect(expression.ReturnData).toBe(true);
    // A missing series (no throttles of that operation) must not blank the sum.
    expect(expression.Expression).toBe(series.map((m: Json) => `FILL(${m.Id}, 0)`).join(' + '));
    expect(series.map((m: Json) => m.MetricStat.Metric.Dimensions.find((d: Json) => d.Name === 'Operation').Value).sort()).toEqual(
      [...TABLE_OPERATIONS].sort(),
    );
    for (const m of series) {
      expect(m.MetricStat).toMatchObject({ Stat: 'Sum', Period: 300, Metric: { Namespace: 'AWS/DynamoDB', MetricName: 'ThrottledRequests' } });
      expect(JSON.stringify(m.MetricStat.Metric.Dimensions)).toMatch(/TableName.*Inkwire-Data:ExportsOutputRefTable/);
    }
  });

  it('alarms when SNS fails to deliver SES events to the events queue', () => {
    const [failed, ...more] = alarms().filter((a) => a.Namespace === 'AWS/SNS' && a.MetricName === 'NumberOfNotificationsFailed');
    expect(more).toEqual([]);
    expect(failed.Dimensions).toEqual([{ Name: 'TopicName', Value: { 'Fn::GetAtt': [logicalId(s.service, s.service.mail.topic), 'TopicName'] } }]);
    expect(failed).toMatchObject({ Statistic: 'Sum', Threshold: 0 });
    expectToTopic(failed);
  });
});

describe('the monthly budget', () => {
  it('is a monthly cost budget of the configured amount, notifying the alarm topic at 80% and 100% actual and 100% forecast', () => {
    const budgets = resourcesOf('AWS::Budgets::Budget');
    expect(budgets).toHaveLength(1);
    const budget = budgets[0]![1];
    expect(budget.Properties.Budget).toMatchObject({ BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 120, Unit: 'USD' } });
    const notifications = budget.Properties.NotificationsWithSubscribers;
    expect(notifications.map((n: Json) => `${n.Notification.NotificationType} ${n.Notification.Threshold}`)).toEqual([
      'ACTUAL 80',
      'ACTUAL 100',
      'FORECASTED 100',
    ]);
    for (const n of notifications) {
      expect(n.Notification).toMatchObject({ ComparisonOperator: 'GREATER_THAN', ThresholdType: 'PERCENTAGE' });
      expect(n.Subscribers).toEqual([{ SubscriptionType: 'SNS', Address: alarmTopic() }]);
    }
  });

  it('lets AWS Budgets publish to the alarm topic, for this account only', () => {
    const policies = resourcesOf('AWS::SNS::TopicPolicy').filter(([, p]) => JSON.stringify(p.Properties.Topics) === JSON.stringify([alarmTopic()]));
    expect(policies).toHaveLength(1);
    const statements = policies[0]![1].Properties.PolicyDocument.Statement.filter((st: Json) => st.Principal?.Service === 'budgets.amazonaws.com');
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sns:Publish',
        Resource: alarmTopic(),
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
  });
});

describe('the monthlyBudgetUsd setting', () => {
  const MINIMAL = { domain: 'news.example.com', postalAddress: 'Example Media, 1 Main St, Springfield, USA' };
  const problemsOf = (raw: Record<string, unknown>) => {
    try {
      parseConfig(raw);
      return [];
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).problems;
    }
  };

  it('defaults to 50 US dollars, and takes a number from cdk.json or a string from -c', () => {
    expect(parseConfig(MINIMAL).monthlyBudgetUsd).toBe(50);
    expect(parseConfig({ ...MINIMAL, monthlyBudgetUsd: 75 }).monthlyBudgetUsd).toBe(75);
    expect(parseConfig({ ...MINIMAL, monthlyBudgetUsd: '12.5' }).monthlyBudgetUsd).toBe(12.5);
  });

  it('refuses an amount that is not a positive number, saying how to record one', () => {
    expect(problemsOf({ ...MINIMAL, monthlyBudgetUsd: 'lots' })).toEqual([
      expect.stringMatching(/^context `monthlyBudgetUsd` must be a number of US dollars \(got "lots"\).*"monthlyBudgetUsd": 50/),
    ]);
    expect(problemsOf({ ...MINIMAL, monthlyBudgetUsd: 0 })).toEqual([expect.stringMatching(/^context `monthlyBudgetUsd` must be greater than 0/)]);
  });

  it('is refused on the command line unless cdk.json records it', () => {
    expect(() => checkRecordedContext({ ...MINIMAL, monthlyBudgetUsd: '80' }, MINIMAL)).toThrow(
      /monthlyBudgetUsd is 80 on the command line but not recorded in cdk\.json/,
    );
    expect(() => checkRecordedContext({ ...MINIMAL, monthlyBudgetUsd: '80' }, { ...MINIMAL, monthlyBudgetUsd: 80 })).not.toThrow();
  });
});

describe('the operations dashboard', () => {
  let body: string;
  beforeAll(() => {
    const dashboards = resourcesOf('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const dashboard = dashboards[0]![1];
    expect(dashboard.Properties.DashboardName).toEqual({ 'Fn::Join': ['', ['Inkwire-', { Ref: 'AWS::Region' }]] });
    // The body is a Fn::Join of literal JSON and references; the literal parts name the metrics.
    body = JSON.stringify(dashboard.Properties.DashboardBody);
  });

  it('graphs the emails Inkwire sent to SES (submitted, throttled, failed), subscribe outcomes and feed rebuild time', () => {
    for (const metric of ['EmailsSubmitted', 'EmailsThrottled', 'EmailsFailed', 'FeedRebuildTime', 'FeedsRebuilt', 'FeedRebuildFailed']) {
      expect(body).toContain(`\\"Inkwire\\",\\"${metric}\\",\\"service\\",\\"inkwire\\"`);
    }
    for (const outcome of ['created', 'confirmationResent', 'alreadyConfirmed', 'blocked']) {
      expect(body).toContain(`\\"Inkwire\\",\\"Subscribes\\",\\"outcome\\",\\"${outcome}\\",\\"service\\",\\"inkwire\\"`);
    }
  });

  it('graphs SES reputation, queue depths and ages, function health, the API, the table and the events topic, and shows every alarm', () => {
    for (const fragment of [
      '\\"AWS/SES\\",\\"Reputation.BounceRate\\"',
      '\\"AWS/SES\\",\\"Reputation.ComplaintRate\\"',
      'ses:configuration-set',
      '\\"AWS/SQS\\",\\"ApproximateNumberOfMessagesVisible\\"',
      '\\"AWS/SQS\\",\\"ApproximateAgeOfOldestMessage\\"',
      '\\"AWS/Lambda\\",\\"Errors\\"',
      '\\"AWS/Lambda\\",\\"Throttles\\"',
      '\\"AWS/Lambda\\",\\"Duration\\"',
      '\\"AWS/Lambda\\",\\"IteratorAge\\"',
      '\\"AWS/ApiGateway\\",\\"5xx\\"',
      '\\"AWS/ApiGateway\\",\\"Latency\\"',
      '\\"AWS/DynamoDB\\",\\"ThrottledRequests\\"',
      '\\"AWS/SNS\\",\\"NumberOfNotificationsFailed\\"',
    ]) {
      expect(body).toContain(fragment);
    }
    // The four dead-letter queues and the two working queues are graphed by reference.
    const { queues, mail, subscriberJobs } = s.service;
    for (const q of [queues.send, queues.sendDeadLetter, queues.failedEvents, mail.queue, mail.deadLetterQueue, subscriberJobs.deadLetterQueue]) {
      expect(body).toContain(logicalId(s.service, q));
    }
    // Every alarm of the stack appears in the alarm status widget.
    for (const [id] of resourcesOf('AWS::CloudWatch::Alarm')) expect(body).toContain(`"Fn::GetAtt":["${id}","Arn"]`);
    for (const f of Object.values(allFunctions())) expect(body).toContain(fnRef(f));
  });
});
