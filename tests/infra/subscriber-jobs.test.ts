import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { InkwireFunction } from '../../infra/constructs/inkwire-function.ts';
import { IMPORT_TABLE_ACTIONS } from '../../infra/constructs/subscriber-jobs.ts';
import { deploymentLimits, type DeploymentLimits } from '../../infra/limits.ts';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

type Json = any; // CloudFormation JSON: assertions below check the shapes they rely on.
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: Json;
}

let s: Synthesized;
let data: Json;
let service: Template;
let serviceJson: Json;
let limits: DeploymentLimits;

beforeAll(() => {
  limits = deploymentLimits(Number(PRODUCTION_CONTEXT.sesMaxSendRate));
  s = synthesize(PRODUCTION_CONTEXT);
  data = Template.fromStack(s.data).toJSON();
  service = Template.fromStack(s.service);
  serviceJson = service.toJSON();
});

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const props = (f: InkwireFunction): Json => serviceJson.Resources[logicalId(s.service, f.fn)].Properties;
const actionsOf = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
function statementsOf(f: InkwireFunction): Statement[] {
  const roleId = logicalId(s.service, f.role);
  return Object.values<Json>(serviceJson.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: Json) => ref.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}
/** `action on resource` for every allowed action of a service, resources written out. */
const grants = (f: InkwireFunction, service: string) =>
  statementsOf(f)
    .flatMap((st) =>
      actionsOf(st)
        .filter((a) => a.startsWith(`${service}:`))
        .flatMap((a) => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]).map((r: Json) => `${a} ${JSON.stringify(r)}`)),
    )
    .sort();

describe('the jobs bucket (data stack)', () => {
  it('is private, encrypted, TLS-only, unversioned, logged, retained, and empties itself within a day or two', () => {
    const id = logicalId(s.data, s.data.jobsBucket);
    const bucket = data.Resources[id];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(s.data, s.data.logBucket) }, LogFilePrefix: 'jobs-bucket/' },
      LifecycleConfiguration: { Rules: [{ Status: 'Enabled', ExpirationInDays: 1, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    });
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    const policy = Object.values<Json>(data.Resources).find((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === id);
    expect(policy.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    );
    // Nobody but this account's roles: no CloudFront grant, no other principal.
    expect(JSON.stringify(policy.Properties.PolicyDocument)).not.toContain('cloudfront');
  });

  it('is never an origin of the distribution', () => {
    const [distribution] = Object.values<Json>(service.findResources('AWS::CloudFront::Distribution'));
    expect(JSON.stringify(distribution)).not.toMatch(/JobsBucket/);
  });
});

describe('subscriber job functions', () => {
  it('run with their timeout and memory from the limits on nodejs22.x, arm64, with the shared settings and the bucket name', () => {
    const { importFunction, jobsFunction } = s.service.subscriberJobs;
    for (const [f, l] of [
      [importFunction, limits.subscriberImport],
      [jobsFunction, limits.subscriberJobs],
    ] as const) {
      expect(props(f)).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: l.timeoutSeconds, MemorySize: l.memoryMb });
      const env = props(f).Environment.Variables;
      expect(env).toMatchObject({
        SITE_URL: 'https://www.example.org',
        PUBLIC_URL: 'https://news.example.org',
        POSTAL_ADDRESS: PRODUCTION_CONTEXT.postalAddress,
      });
      expect(env.JOBS_BUCKET['Fn::ImportValue']).toMatch(/JobsBucket/);
      expect(env.JOBS_QUEUE_URL).toBeUndefined();
      expect(serviceJson.Resources[logicalId(s.service, f.role)].Properties.ManagedPolicyArns).toBeUndefined();
    }
    // Neither signs links or sends mail: no token key.
    expect(props(importFunction).Environment.Variables.TOKEN_SECRET_ARN).toBeUndefined();
    expect(props(jobsFunction).Environment.Variables.TOKEN_SECRET_ARN).toBeUndefined();
  });

  it('let the import read and delete uploads under imports/ only and write subscribers; it sends no mail (confirmations go out as a send)', () => {
    const f = s.service.subscriberJobs.importFunction;
    expect(grants(f, 's3')).toEqual(
      ['s3:DeleteObject', 's3:GetObject'].map((a) => `${a} {"Fn::Join":["",[{"Fn::ImportValue":"Inkwire-Data-JobsBucketArn"},"/imports/*"]]}`),
    );
    const table = statementsOf(f).filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
    expect(table).toHaveLength(1);
    expect(actionsOf(table[0]!).sort()).toEqual([...IMPORT_TABLE_ACTIONS].sort());
    expect(JSON.stringify(table[0]!.Resource)).not.toContain('/index/');
    expect(grants(f, 'ses')).toEqual([]);
    expect(grants(f, 'secretsmanager')).toEqual([]);
    // The failure destination of its asynchronous invocations (CDK's grant), and no other queue.
    const dlq = `{"Fn::GetAtt":["${logicalId(s.service, s.service.subscriberJobs.deadLetterQueue)}","Arn"]}`;
    expect(grants(f, 'sqs')).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].map((a) => `${a} ${dlq}`));
  });

  it('let the jobs function write exports under exports/ only, move job records and read the list by status, nothing more', () => {
    const f = s.service.subscriberJobs.jobsFunction;
    expect(grants(f, 's3')).toEqual(
      ['s3:AbortMultipartUpload', 's3:PutObject'].map((a) => `${a} {"Fn::Join":["",[{"Fn::ImportValue":"Inkwire-Data-JobsBucketArn"},"/exports/*"]]}`),
    );
    const dynamo = grants(f, 'dynamodb');
    expect(dynamo.filter((g) => !/ReceiveMessage|Stream/.test(g)).map((g) => g.split(' ')[0])).toEqual(['dynamodb:Query', 'dynamodb:UpdateItem']);
    expect(dynamo.find((g) => g.startsWith('dynamodb:Query'))).toContain('/index/GSI1');
    expect(grants(f, 'ses')).toEqual([]);
    expect(grants(f, 'secretsmanager')).toEqual([]);
    // The event source's own grant (CDK), on the jobs queue only.
    expect(grants(f, 'sqs').map((g) => g.split(' ')[0])).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
    for (const g of grants(f, 'sqs')) expect(g).toContain(logicalId(s.service, s.service.subscriberJobs.queue));
  });

  it('let the api sign uploads under imports/ and downloads under exports/, and queue jobs', () => {
    const { api } = s.service.functions;
    const bucket = '{"Fn::Join":["",[{"Fn::ImportValue":"Inkwire-Data-JobsBucketArn"},';
    expect(grants(api, 's3')).toEqual([`s3:GetObject ${bucket}"/exports/*"]]}`, `s3:PutObject ${bucket}"/imports/*"]]}`]);
    expect(grants(api, 'sqs')).toContain(`sqs:SendMessage {"Fn::GetAtt":["${logicalId(s.service, s.service.subscriberJobs.queue)}","Arn"]}`);
    const env = props(api).Environment.Variables;
    expect(env.JOBS_BUCKET['Fn::ImportValue']).toMatch(/JobsBucket/);
    expect(env.JOBS_QUEUE_URL).toEqual({ Ref: logicalId(s.service, s.service.subscriberJobs.queue) });
  });
});

describe('how jobs start', () => {
  it('invokes the import function on ObjectCreated under imports/*.csv, and nothing else', () => {
    const importArn = { 'Fn::GetAtt': [logicalId(s.service, s.service.subscriberJobs.importFunction.fn), 'Arn'] };
    service.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { 'Fn::ImportValue': Match.stringLikeRegexp('JobsBucket') },
      Managed: false,
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: {
              Key: {
                FilterRules: [
                  { Name: 'suffix', Value: '.csv' },
                  { Name: 'prefix', Value: 'imports/' },
                ],
              },
            },
            LambdaFunctionArn: importArn,
          },
        ],
      },
    });
    service.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: importArn,
      Principal: 's3.amazonaws.com',
      SourceArn: { 'Fn::ImportValue': 'Inkwire-Data-JobsBucketArn' },
    });
  });

  it('keeps an import event that failed its retries in the jobs dead-letter queue', () => {
    service.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(s.service, s.service.subscriberJobs.importFunction.fn) },
      MaximumRetryAttempts: limits.subscriberImport.retryAttempts,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(s.service, s.service.subscriberJobs.deadLetterQueue), 'Arn'] } } },
    });
  });

  it('consumes the jobs queue in batches of the limits\u2019 size, with partial failures, and parks a message after its last receive', () => {
    const jobs = s.service.subscriberJobs;
    const mappings = Object.values<Json>(
      service.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: logicalId(s.service, jobs.jobsFunction.fn) } } }),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [logicalId(s.service, jobs.queue), 'Arn'] },
      BatchSize: limits.subscriberJobs.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: limits.subscriberJobs.maximumConcurrency },
    });
    const queue = serviceJson.Resources[logicalId(s.service, jobs.queue)].Properties;
    expect(queue.VisibilityTimeout).toBeGreaterThan(props(jobs.jobsFunction).Timeout * 6);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(s.service, jobs.deadLetterQueue), 'Arn'] },
      maxReceiveCount: limits.subscriberJobs.maxReceiveCount,
    });
  });
});

describe('job alarms', () => {
  it('alarm on errors of both functions and on the dead-letter queue, to the alarm topic', () => {
    const jobs = s.service.subscriberJobs;
    const topic = { Ref: logicalId(s.service, s.service.alarms.topic) };
    const alarms = Object.values<Json>(service.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    for (const f of [jobs.importFunction, jobs.jobsFunction]) {
      const [alarm, ...more] = alarms.filter((a) => a.MetricName === 'Errors' && a.Dimensions[0].Value.Ref === logicalId(s.service, f.fn));
      expect(more).toHaveLength(0);
      expect(alarm).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic],
        OKActions: [topic],
      });
    }
    const dlq = alarms.filter(
      (a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Dimensions[0].Value['Fn::GetAtt']?.[0] === logicalId(s.service, jobs.deadLetterQueue),
    );
    expect(dlq).toHaveLength(1);
    expect(dlq[0]).toMatchObject({ Threshold: 0, AlarmActions: [topic] });
  });
});
