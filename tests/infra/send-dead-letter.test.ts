import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEND_DEAD_LETTER_TABLE_ACTIONS, type SendDeadLetter } from '../../infra/constructs/send-dead-letter.ts';
import { deploymentLimits, type DeploymentLimits } from '../../infra/limits.ts';
import { SEND_MAX_RECEIVES } from '../../lambdas/handlers/send-dead-letter.ts';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

type Json = any; // CloudFormation JSON: assertions below check the shapes they rely on.
interface Statement {
  Action: string | string[];
  Resource: Json;
}

let s: Synthesized;
let resources: Record<string, Json>;
let deadLetter: SendDeadLetter;
let limits: DeploymentLimits;

beforeAll(() => {
  s = synthesize(PRODUCTION_CONTEXT);
  resources = Template.fromStack(s.service).toJSON().Resources;
  deadLetter = s.service.sendDeadLetter;
  limits = deploymentLimits(Number(PRODUCTION_CONTEXT.sesMaxSendRate));
});

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const arnOf = (construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [logicalId(s.service, construct), 'Arn'] });
const actionsOf = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
const resourcesOf = (st: Statement): Json[] => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]);
const handlerProps = () => resources[logicalId(s.service, deadLetter.handler.fn)].Properties;
function statements(): Statement[] {
  const roleId = logicalId(s.service, deadLetter.handler.role);
  return Object.values<Json>(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: Json) => ref.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}
const alarms = () =>
  Object.values<Json>(resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties);

describe('the send dead-letter handler', () => {
  it('runs like every function (nodejs22.x, arm64, its own log group, no managed policy) with the shared settings and no variable naming a resource it may not use', () => {
    const props = handlerProps();
    expect(props).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
    expect(props.LoggingConfig.LogGroup).toEqual({ Ref: logicalId(s.service, deadLetter.handler.logGroup) });
    expect(resources[logicalId(s.service, deadLetter.handler.role)].Properties.ManagedPolicyArns).toBeUndefined();
    const env = Object.keys(props.Environment.Variables);
    expect(env).toContain('TABLE_NAME');
    for (const name of [
      'SEND_QUEUE_URL',
      'TOKEN_SECRET_ARN',
      'PUBLISHER_KEY_SECRET_ARN',
      'SCHEDULER_GROUP_NAME',
      'SCHEDULER_ROLE_ARN',
      'PUBLISH_FUNCTION_ARN',
    ]) {
      expect(env).not.toContain(name);
    }
  });

  it('consumes the send dead-letter queue with partial batch failures, within the queue\u2019s visibility timeout', () => {
    const mappings = Object.values<Json>(resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.FunctionName.Ref === logicalId(s.service, deadLetter.handler.fn),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({
      EventSourceArn: arnOf(s.service.queues.sendDeadLetter),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: limits.sendDeadLetter.batchSize,
      ScalingConfig: { MaximumConcurrency: limits.sendDeadLetter.maximumConcurrency },
    });
    // Lambda refuses an SQS event source whose function may run longer than the queue hides a message.
    const dlq = resources[logicalId(s.service, s.service.queues.sendDeadLetter)].Properties;
    // The dead-letter queue keeps SQS's default visibility timeout (30 s) and has no redrive of its own.
    expect(dlq.VisibilityTimeout ?? 30).toBe(30);
    expect(dlq.RedrivePolicy).toBeUndefined();
    expect(handlerProps().Timeout).toBeLessThanOrEqual(dlq.VisibilityTimeout ?? 30);
  });

  it('may only read sends and write delivery records and batch tallies on the table (no index), and consume the dead-letter queue: no mail, bucket, secret or send queue', () => {
    const all = statements();
    const table = all.filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
    expect(table).toHaveLength(1);
    expect(actionsOf(table[0]!).sort()).toEqual([...SEND_DEAD_LETTER_TABLE_ACTIONS].sort());
    // The table's ARN as the other functions' statements name it (their first resource; the indexes follow).
    const roleOf = (f: { role: { node: { defaultChild?: unknown } } }) => logicalId(s.service, f.role);
    const feedRebuildTable = Object.values<Json>(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: Json) => ref.Ref === roleOf(s.service.functions.feedRebuild)))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[])
      .find((st) => actionsOf(st).includes('dynamodb:GetItem'))!;
    expect(resourcesOf(table[0]!)).toEqual([resourcesOf(feedRebuildTable)[0]]);
    expect(JSON.stringify(table[0]!.Resource)).not.toContain('/index/');
    const actions = all.flatMap(actionsOf);
    expect(actions.filter((a) => /^(ses|s3|secretsmanager|scheduler|iam):/.test(a) || a === 'sqs:SendMessage' || a.includes('*'))).toEqual([]);
    for (const st of all.filter((x) => actionsOf(x).some((a) => a.startsWith('sqs:'))))
      expect(resourcesOf(st)).toEqual([arnOf(s.service.queues.sendDeadLetter)]);
  });

  it('alarms when a batch reaches the dead-letter queue although it drains it at once, and on its own errors; the queue\u2019s messages-visible alarm stays', () => {
    const topic = { Ref: logicalId(s.service, s.service.alarms.topic) };
    const dlqName = { 'Fn::GetAtt': [logicalId(s.service, s.service.queues.sendDeadLetter), 'QueueName'] };
    const onQueue = (metric: string) =>
      alarms().filter((a) => a.MetricName === metric && JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'QueueName', Value: dlqName }]));
    const received = onQueue('NumberOfMessagesReceived');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      Namespace: 'AWS/SQS',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic],
      OKActions: [topic],
    });
    expect(onQueue('ApproximateNumberOfMessagesVisible')).toHaveLength(1);
    const errors = alarms().filter((a) => a.MetricName === 'Errors' && a.Dimensions[0].Value.Ref === logicalId(s.service, deadLetter.handler.fn));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ Threshold: 0, AlarmActions: [topic] });
  });

  it('reports a batch given up after as many attempts as the send queue allows receives', () => {
    expect(SEND_MAX_RECEIVES).toBe(limits.sendWorker.maxReceiveCount);
    expect(resources[logicalId(s.service, s.service.queues.send)].Properties.RedrivePolicy.maxReceiveCount).toBe(SEND_MAX_RECEIVES);
  });
});
