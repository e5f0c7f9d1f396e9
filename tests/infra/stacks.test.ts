import { Duration, type Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CachePolicy, OriginRequestPolicy } from 'aws-cdk-lib/aws-cloudfront';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../lambdas/adapters/dynamodb/table-schema.ts';
import { FEED_REBUILD_FILTER, SEND_PLANNER_FILTER } from '../../lambdas/handlers/stream-filters.ts';
import { API_PATH_PATTERNS } from '../../infra/constructs/edge.ts';
import type { InkwireFunction } from '../../infra/constructs/inkwire-function.ts';
import { deploymentLimits, type DeploymentLimits } from '../../infra/limits.ts';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

type Json = any; // CloudFormation JSON: assertions below check the shapes they rely on.
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: Json;
  Condition?: Json;
}

let s: Synthesized;
let data: Template;
let service: Template;
let serviceJson: Json;
/** What the stacks must be built from (tests/infra/limits.test.ts compares every number). */
let limits: DeploymentLimits;

beforeAll(() => {
  s = synthesize(PRODUCTION_CONTEXT);
  data = Template.fromStack(s.data);
  service = Template.fromStack(s.service);
  serviceJson = service.toJSON();
  limits = deploymentLimits(Number(PRODUCTION_CONTEXT.sesMaxSendRate));
});

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const functionProps = (f: InkwireFunction): Json => serviceJson.Resources[logicalId(s.service, f.fn)].Properties;
const actionsOf = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
const resourcesOf = (st: Statement): Json[] => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]);

/** Every statement of the function role's policies (CDK puts them all in the role's default policy). */
function statementsOf(f: InkwireFunction): Statement[] {
  const roleId = logicalId(s.service, f.role);
  return Object.values<Json>(serviceJson.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: Json) => ref.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}
const actionsOfFunction = (f: InkwireFunction) => statementsOf(f).flatMap(actionsOf);
const statementWith = (f: InkwireFunction, action: string) => statementsOf(f).filter((st) => actionsOf(st).includes(action));

describe('data stack (stateful)', () => {
  it('creates the single table from TABLE_SCHEMA: keys, GSIs with their projections, on demand, stream, TTL, PITR, deletion protection', () => {
    data.resourceCountIs('AWS::DynamoDB::Table', 1);
    data.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: index.projection },
      })),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
    expect(TABLE_SCHEMA.indexes.map((i) => [i.name, i.projection])).toEqual([
      ['GSI1', 'ALL'],
      ['GSI2', 'ALL'],
      ['GSI3', 'KEYS_ONLY'],
    ]);
    data.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('keeps the feed bucket private, encrypted, versioned, logged and retained (its TLS-only policy is the edge\u2019s: tests/infra/edge.test.ts)', () => {
    const feedBucketId = logicalId(s.data, s.data.feedBucket);
    const bucket = data.toJSON().Resources[feedBucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(s.data, s.data.logBucket) } },
    });
    // The bucket's one policy names the distribution, so it is written in the service stack.
    expect(Object.values<Json>(data.toJSON().Resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket?.Ref === feedBucketId)).toEqual(
      [],
    );
    data.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('generates and retains the token signing key, the publisher API key and the origin secret', () => {
    data.resourceCountIs('AWS::SecretsManager::Secret', 3);
    data.allResources('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ GenerateSecretString: Match.objectLike({ ExcludePunctuation: true }) }),
    });
  });

  it('verifies the domain in SES with Easy DKIM and a custom MAIL FROM domain, retained', () => {
    data.hasResource('AWS::SES::EmailIdentity', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        EmailIdentity: 'news.example.org',
        DkimAttributes: { SigningEnabled: true },
        MailFromAttributes: { MailFromDomain: 'mail.news.example.org', BehaviorOnMxFailure: 'USE_DEFAULT_VALUE' },
      }),
    });
  });

  it('refers to nothing in the service stack, so the service stack can be replaced on its own', () => {
    expect(JSON.stringify(data.toJSON())).not.toContain('Fn::ImportValue');
    expect(s.data.dependencies).toHaveLength(0);
    expect(s.service.dependencies).toContain(s.data);
  });
});

describe('functions', () => {
  const SHARED_ENV = [
    'TABLE_NAME',
    'FEED_BUCKET',
    'SITE_URL',
    'PUBLIC_URL',
    'SITE_PAGES',
    'SITE_TITLE',
    'SITE_DESCRIPTION',
    'SITE_LANGUAGE',
    'FEED_ITEM_LIMIT',
    'MAIL_FROM',
    'MAIL_FROM_NAME',
    'POSTAL_ADDRESS',
    'SES_CONFIGURATION_SET_NEWSLETTER',
    'SES_CONFIGURATION_SET_TRANSACTIONAL',
    'SES_MAX_SEND_RATE',
    'DEFAULT_FREQUENCY',
    'WEBSUB_HUB',
  ];

  it('runs all seven entries on nodejs22.x, arm64, with their own log group and no managed policy', () => {
    const fns = Object.values(s.service.functions);
    expect(fns).toHaveLength(7);
    for (const f of fns) {
      const props = functionProps(f);
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe('index.handler');
      expect(props.LoggingConfig.LogGroup).toEqual({ Ref: logicalId(s.service, f.logGroup) });
      expect(serviceJson.Resources[logicalId(s.service, f.role)].Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('tells the API the Easy DKIM records SES issued, for the console\u2019s DNS check', () => {
    const dkim = JSON.stringify(functionProps(s.service.functions.api).Environment.Variables.DKIM_RECORDS);
    for (const n of [1, 2, 3]) expect(dkim).toContain(`DkimDNSTokenValue${n}`);
  });

  it('passes the shared settings to every function, with values from the configuration', () => {
    for (const f of Object.values(s.service.functions)) {
      const env = functionProps(f).Environment.Variables;
      expect(Object.keys(env)).toEqual(expect.arrayContaining(SHARED_ENV));
      expect(env).toMatchObject({
        SITE_URL: 'https://www.example.org',
        PUBLIC_URL: 'https://news.example.org',
        // The publisher has a website of their own: Inkwire writes no pages unless told to.
        SITE_PAGES: 'off',
        SITE_TITLE: 'Example Org News',
        SITE_LANGUAGE: 'en-GB',
        FEED_ITEM_LIMIT: '50',
        MAIL_FROM: 'newsletter@news.example.org',
        MAIL_FROM_NAME: 'Example Org News',
        POSTAL_ADDRESS: PRODUCTION_CONTEXT.postalAddress,
        SES_MAX_SEND_RATE: '14',
        DEFAULT_FREQUENCY: 'weekly', // the default when the settings name none (DEFAULT_SUBSCRIBER_FREQUENCY)
        WEBSUB_HUB: 'https://pubsubhubbub.appspot.com',
      });
      expect(env.NODE_OPTIONS).toBeUndefined(); // no source maps, so no --enable-source-maps
    }
  });

  it('gives resource-naming variables only to the functions allowed to use them', () => {
    const envOf = (f: InkwireFunction) => Object.keys(functionProps(f).Environment.Variables);
    const { api, feedRebuild, sendPlanner, sendWorker, sesEvents, publishScheduled, digest } = s.service.functions;
    expect(envOf(api)).toEqual(
      expect.arrayContaining(['TOKEN_SECRET_ARN', 'PUBLISHER_KEY_SECRET_ARN', 'SCHEDULER_GROUP_NAME', 'SCHEDULER_ROLE_ARN', 'PUBLISH_FUNCTION_ARN']),
    );
    // SES's events reach the SesEvents function through its queue: no function is told the topic (there
    // is no webhook to check a message's topic against any more).
    for (const [, r] of Object.entries<Json>(service.findResources('AWS::Lambda::Function'))) {
      expect(r.Properties.Environment?.Variables?.SES_EVENTS_TOPIC_ARN).toBeUndefined();
    }
    // The events consumer gets the shared settings and the token key (mailto unsubscribes), nothing more.
    expect(envOf(sesEvents).sort()).toEqual([...SHARED_ENV, 'TOKEN_SECRET_ARN'].sort());
    expect(envOf(sendWorker)).toEqual(expect.arrayContaining(['SEND_QUEUE_URL', 'TOKEN_SECRET_ARN']));
    expect(envOf(sendWorker)).not.toContain('PUBLISHER_KEY_SECRET_ARN');
    // Only the planner (which queues a send's batches) and the worker (which hands unfinished work on) name
    // the send queue; the api and the digest only write Send items, which the planner picks up on the stream.
    for (const f of [sendPlanner, sendWorker]) expect(envOf(f)).toContain('SEND_QUEUE_URL');
    for (const f of [api, feedRebuild, sesEvents, publishScheduled, digest]) expect(envOf(f)).not.toContain('SEND_QUEUE_URL');
    for (const f of [feedRebuild, sendPlanner, publishScheduled, digest]) expect(envOf(f)).not.toContain('TOKEN_SECRET_ARN');
    for (const f of [feedRebuild, sendPlanner, sendWorker, digest]) expect(envOf(f)).not.toContain('SCHEDULER_ROLE_ARN');
  });

  it('gives the scheduler settings to the functions that build the article use cases (api, publish-scheduled)', () => {
    const { api, publishScheduled } = s.service.functions;
    const publishName = functionProps(publishScheduled).FunctionName;
    expect(publishName).toBe('Inkwire-Service-publish-scheduled');
    for (const f of [api, publishScheduled]) {
      const env = functionProps(f).Environment.Variables;
      expect(env.SCHEDULER_GROUP_NAME).toBe(s.service.scheduling.publishGroupName);
      expect(env.SCHEDULER_ROLE_ARN).toEqual({ 'Fn::GetAtt': [logicalId(s.service, s.service.scheduling.publishRole), 'Arn'] });
      expect(JSON.stringify(env.PUBLISH_FUNCTION_ARN)).toContain(`:function:${publishName}"`);
    }
    // publish-scheduled never schedules: the variables come without the permission.
    expect(actionsOfFunction(publishScheduled).filter((a) => a.startsWith('scheduler:') || a === 'iam:PassRole')).toEqual([]);
  });
});

describe('permissions (least privilege per function)', () => {
  it('grants no wildcard action anywhere: no dynamodb:*, ses:*, s3:* or *', () => {
    const policies = Object.values<Json>(serviceJson.Resources).filter((r) => r.Type === 'AWS::IAM::Policy');
    const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap(actionsOf));
    expect(actions.length).toBeGreaterThan(20);
    expect(actions.filter((a: string) => a.includes('*') && !a.endsWith('GenerateDataKey*'))).toEqual([]);
  });

  it('lets the api read and write items but never dynamodb:* nor Scan, on the table and its two indexes only', () => {
    const { api } = s.service.functions;
    const table = statementWith(api, 'dynamodb:PutItem');
    expect(table).toHaveLength(1);
    expect(actionsOf(table[0]!).sort()).toEqual(
      [
        'dynamodb:BatchGetItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ].sort(),
    );
    const resources = JSON.stringify(table[0]!.Resource);
    expect(resources).toContain('/index/GSI1');
    expect(resources).toContain('/index/GSI2');
    expect(resources).toContain('/index/GSI3');
    expect(resources).not.toContain('/index/*');
    expect(actionsOfFunction(api)).not.toContain('dynamodb:*');
    expect(actionsOfFunction(api)).not.toContain('dynamodb:Scan');
    // Only to presign subscriber job files (imports/ and exports/ of the jobs bucket): see subscriber-jobs.test.ts.
    expect(
      actionsOfFunction(api)
        .filter((a) => a.startsWith('s3:'))
        .sort(),
    ).toEqual(['s3:GetObject', 's3:PutObject']);
  });

  it('scopes ses:SendRawEmail to the domain identity plus one configuration set (newsletter for the worker; transactional, and newsletter for test sends, for the api)', () => {
    const { api, sendWorker, feedRebuild, sendPlanner, sesEvents, publishScheduled, digest } = s.service.functions;
    const check = (f: InkwireFunction, sets: string[]) => {
      const [send, ...more] = statementWith(f, 'ses:SendRawEmail');
      expect(more).toHaveLength(0);
      expect(actionsOf(send!)).toEqual(['ses:SendRawEmail']);
      const resources = resourcesOf(send!).map((r) => JSON.stringify(r));
      expect(resources).toHaveLength(1 + sets.length);
      expect(resources.filter((r) => r.includes(':identity/') && r.includes('EmailIdentity'))).toHaveLength(1);
      for (const set of sets) expect(resources.filter((r) => r.includes(`:configuration-set/${set}"`))).toHaveLength(1);
      expect(resources.join()).not.toContain('*');
    };
    check(sendWorker, ['newsletter']);
    // The API sends confirmations (transactional) and a publisher's test sends (newsletter).
    check(api, ['transactional', 'newsletter']);
    expect(actionsOfFunction(sendWorker)).toContain('ses:GetSendQuota');
    // The planner reads the account's 24-hour quota before queueing a page, and sends nothing.
    expect(actionsOfFunction(sendPlanner).filter((a) => a.startsWith('ses:'))).toEqual(['ses:GetSendQuota']);
    for (const f of [feedRebuild, publishScheduled, digest]) {
      expect(actionsOfFunction(f).filter((a) => a.startsWith('ses:'))).toEqual([]);
    }
    // The SES events consumer sends nothing; it puts hard-bounced and complaining addresses on SES's
    // account-level suppression list. The api edits that list too (erasures, fresh confirmations).
    const listActions = ['ses:DeleteSuppressedDestination', 'ses:PutSuppressedDestination'];
    expect(
      actionsOfFunction(sesEvents)
        .filter((a) => a.startsWith('ses:'))
        .sort(),
    ).toEqual(listActions);
    expect(
      actionsOfFunction(api)
        .filter((a) => a.includes('Suppressed'))
        .sort(),
    ).toEqual(listActions);
    for (const f of [sendWorker, sendPlanner, feedRebuild, publishScheduled, digest])
      expect(actionsOfFunction(f).filter((a) => a.includes('Suppressed'))).toEqual([]);
  });

  it('lets the send planner write digest archive pages under archive/ in the feed bucket, and nowhere else', () => {
    const { sendPlanner } = s.service.functions;
    // (Its other s3:PutObject is into the failed-batches bucket, as its stream's on-failure destination.)
    const failedBatches = logicalId(s.service, s.service.failedBatches.bucket);
    const [stmt, ...more] = statementWith(sendPlanner, 's3:PutObject').filter((st) => !JSON.stringify(st.Resource).includes(failedBatches));
    expect(more).toHaveLength(0);
    expect(actionsOf(stmt!).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(
      resourcesOf(stmt!)
        .map((r) => JSON.stringify(r))
        .join(),
    ).toMatch(/\/archive\/\*/);
  });

  it('lets the feed rebuilder only read the table and get/put/delete objects in the feed bucket', () => {
    const { feedRebuild } = s.service.functions;
    const actions = actionsOfFunction(feedRebuild);
    expect(actions.filter((a) => a.startsWith('dynamodb:') && !/Stream|GetRecords|GetShardIterator/.test(a)).sort()).toEqual(
      ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query'].sort(),
    );
    // s3:ListBucket and a second s3:PutObject are on the failed-batches bucket only (its stream's on-failure destination).
    expect([...new Set(actions.filter((a) => a.startsWith('s3:')))].sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const failedBatches = logicalId(s.service, s.service.failedBatches.bucket);
    for (const st of statementWith(feedRebuild, 's3:ListBucket')) expect(JSON.stringify(st.Resource)).toContain(failedBatches);
  });

  it('lets the SES events consumer read and write items by key on the table only: no index, no delete, no batch write, no Scan', () => {
    const { sesEvents } = s.service.functions;
    const table = statementsOf(sesEvents).filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
    expect(table).toHaveLength(1);
    expect(actionsOf(table[0]!).sort()).toEqual(
      ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'].sort(),
    );
    expect(resourcesOf(table[0]!)).toEqual([{ 'Fn::ImportValue': expect.stringMatching(/TableArn|Table.*Arn/) }]);
    expect(JSON.stringify(table[0]!.Resource)).not.toContain('/index/');
    // Besides its logs and the table, only what the SQS event source needs on the events queue.
    const eventsQueueArn = JSON.stringify({ 'Fn::GetAtt': [logicalId(s.service, s.service.mail.queue), 'Arn'] });
    const others = statementsOf(sesEvents).filter(
      (st) =>
        !actionsOf(st).some(
          (a) => a.startsWith('dynamodb:') || a.startsWith('logs:') || a.startsWith('secretsmanager:') || a.startsWith('ses:') || a.startsWith('xray:'),
        ),
    );
    expect(others.flatMap(actionsOf).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
    for (const st of others) expect(resourcesOf(st).map((r) => JSON.stringify(r))).toEqual([eventsQueueArn]);
  });

  it('lets the api manage schedules only in its group, and pass only the publish role, only to Scheduler', () => {
    const { api } = s.service.functions;
    const [schedules] = statementWith(api, 'scheduler:CreateSchedule');
    expect(actionsOf(schedules!).sort()).toEqual(['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:UpdateSchedule']);
    expect(JSON.stringify(schedules!.Resource)).toContain(`:schedule/${s.service.scheduling.publishGroupName}/*`);
    const [pass] = statementWith(api, 'iam:PassRole');
    expect(pass!.Resource).toEqual({ 'Fn::GetAtt': [logicalId(s.service, s.service.scheduling.publishRole), 'Arn'] });
    expect(pass!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
  });

  it('lets only the api, the send worker and the SES events consumer read secrets, each only the ones it needs', () => {
    const secretArns = (f: InkwireFunction) => statementWith(f, 'secretsmanager:GetSecretValue').map((st) => JSON.stringify(st.Resource));
    const { api, sendWorker, feedRebuild, sendPlanner, sesEvents, publishScheduled, digest } = s.service.functions;
    // The token key, the publisher API key and the origin secret.
    expect(secretArns(api)).toHaveLength(3);
    expect(secretArns(sendWorker)).toHaveLength(1);
    expect(secretArns(sendWorker)[0]).toContain('TokenSigningKey');
    // The events consumer verifies the unsubscribe token of a mailto unsubscribe.
    expect(secretArns(sesEvents)).toHaveLength(1);
    expect(secretArns(sesEvents)[0]).toContain('TokenSigningKey');
    for (const f of [feedRebuild, sendPlanner, publishScheduled, digest]) expect(secretArns(f)).toEqual([]);
  });

  it('lets the planner and the worker, and only them, put messages on the send queue', () => {
    const sendQueueArn = { 'Fn::GetAtt': [logicalId(s.service, s.service.queues.send), 'Arn'] };
    const canSend = (f: InkwireFunction) => statementWith(f, 'sqs:SendMessage').some((st) => JSON.stringify(st.Resource) === JSON.stringify(sendQueueArn));
    const { api, feedRebuild, sendPlanner, sendWorker, sesEvents, publishScheduled, digest } = s.service.functions;
    for (const f of [sendPlanner, sendWorker]) expect(canSend(f)).toBe(true);
    for (const f of [api, feedRebuild, sesEvents, publishScheduled, digest]) expect(canSend(f)).toBe(false);
    const { sendDeadLetter, subscriberJobs } = s.service;
    for (const f of [sendDeadLetter.handler, subscriberJobs.importFunction, subscriberJobs.jobsFunction]) expect(canSend(f)).toBe(false);
  });

  it('lets the digest and publish-scheduled functions send only their failed runs to the failed-events queue', () => {
    const failedEventsArn = JSON.stringify({ 'Fn::GetAtt': [logicalId(s.service, s.service.queues.failedEvents), 'Arn'] });
    const { digest, publishScheduled } = s.service.functions;
    for (const f of [digest, publishScheduled]) {
      const sqs = statementsOf(f).filter((st) => actionsOf(st).some((a) => a.startsWith('sqs:')));
      expect(sqs.flatMap(actionsOf).sort()).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
      for (const st of sqs) expect(resourcesOf(st).map((r) => JSON.stringify(r))).toEqual([failedEventsArn]);
    }
  });
});

describe('event sources', () => {
  const mappingFor = (f: InkwireFunction) => {
    const found = service.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: { Ref: logicalId(s.service, f.fn) } },
    });
    const all = Object.values<Json>(found);
    expect(all).toHaveLength(1);
    return all[0].Properties;
  };
  const failedBatchesArn = () => ({ 'Fn::GetAtt': [logicalId(s.service, s.service.failedBatches.bucket), 'Arn'] });

  it('keeps stream batches given up on, with their records, in a bucket that announces each on the alarm topic and keeps them 30 days', () => {
    const bucket = service.toJSON().Resources[logicalId(s.service, s.service.failedBatches.bucket)];
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ ExpirationInDays: 30, Status: 'Enabled' })]);
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
    const notifications = Object.values<Json>(service.findResources('Custom::S3BucketNotifications'));
    const forBucket = notifications.find(
      (n) => JSON.stringify(n.Properties.BucketName) === JSON.stringify({ Ref: logicalId(s.service, s.service.failedBatches.bucket) }),
    );
    expect(forBucket?.Properties.NotificationConfiguration.TopicConfigurations).toEqual([
      { Events: ['s3:ObjectCreated:*'], TopicArn: { Ref: logicalId(s.service, s.service.alarms.topic) } },
    ]);
    // Both stream consumers may write there (the event source mapping writes as the function).
    for (const f of [s.service.functions.feedRebuild, s.service.functions.sendPlanner]) {
      expect(
        JSON.stringify(
          statementsOf(f)
            .filter((st) => actionsOf(st).includes('s3:PutObject'))
            .map((st) => st.Resource),
        ),
      ).toContain(logicalId(s.service, s.service.failedBatches.bucket));
    }
  });

  it('feeds FEED# stream records to the feed rebuilder in batches, with bisect, bounded retries, partial failures and a DLQ', () => {
    const m = mappingFor(s.service.functions.feedRebuild);
    expect(m.FilterCriteria).toEqual({ Filters: [{ Pattern: JSON.stringify(FEED_REBUILD_FILTER) }] });
    expect(JSON.parse(m.FilterCriteria.Filters[0].Pattern)).toEqual({ dynamodb: { Keys: { PK: { S: [{ prefix: 'FEED#' }] } } } });
    expect(m.EventSourceArn['Fn::ImportValue']).toMatch(/StreamArn/);
    expect(m).toMatchObject({
      BatchSize: limits.feedRebuild.batchSize,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: failedBatchesArn() } },
    });
    expect(m.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(m.MaximumRetryAttempts).toBeLessThanOrEqual(10);
  });

  it('feeds only SEND#/SEND stream records to the send planner', () => {
    const m = mappingFor(s.service.functions.sendPlanner);
    expect(JSON.parse(m.FilterCriteria.Filters[0].Pattern)).toEqual(SEND_PLANNER_FILTER);
    expect(SEND_PLANNER_FILTER).toEqual({ dynamodb: { Keys: { PK: { S: [{ prefix: 'SEND#' }] }, SK: { S: ['SEND'] } } } });
    expect(m).toMatchObject({
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: failedBatchesArn() } },
    });
  });

  it('consumes the send queue in batches with partial failures and bounded concurrency', () => {
    const m = mappingFor(s.service.functions.sendWorker);
    expect(m.EventSourceArn).toEqual({ 'Fn::GetAtt': [logicalId(s.service, s.service.queues.send), 'Arn'] });
    expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(m.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
    expect(m.ScalingConfig.MaximumConcurrency).toBe(limits.sendWorker.maximumConcurrency);
  });

  it('keeps a send message invisible for more than six worker timeouts, and parks it after its last receive', () => {
    const worker = functionProps(s.service.functions.sendWorker);
    const queue = serviceJson.Resources[logicalId(s.service, s.service.queues.send)].Properties;
    expect(queue.VisibilityTimeout).toBeGreaterThan(worker.Timeout * 6);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(s.service, s.service.queues.sendDeadLetter), 'Arn'] },
      maxReceiveCount: limits.sendWorker.maxReceiveCount,
    });
  });

  it('consumes the SES events queue in batches with partial failures and bounded concurrency', () => {
    const m = mappingFor(s.service.functions.sesEvents);
    expect(m.EventSourceArn).toEqual({ 'Fn::GetAtt': [logicalId(s.service, s.service.mail.queue), 'Arn'] });
    expect(m).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: limits.sesEvents.batchSize,
      MaximumBatchingWindowInSeconds: limits.sesEvents.maxBatchingWindowSeconds,
      ScalingConfig: { MaximumConcurrency: limits.sesEvents.maximumConcurrency },
    });
  });

  it('keeps an SES event invisible for more than six consumer timeouts, and parks it in its own dead-letter queue after its last receive', () => {
    const consumer = functionProps(s.service.functions.sesEvents);
    const queue = serviceJson.Resources[logicalId(s.service, s.service.mail.queue)].Properties;
    expect(queue.VisibilityTimeout).toBe(limits.sesEvents.visibilityTimeoutSeconds);
    expect(queue.VisibilityTimeout).toBeGreaterThan(consumer.Timeout * 6);
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(s.service, s.service.mail.deadLetterQueue), 'Arn'] },
      maxReceiveCount: limits.sesEvents.maxReceiveCount,
    });
    const deadLetter = serviceJson.Resources[logicalId(s.service, s.service.mail.deadLetterQueue)].Properties;
    expect(deadLetter.MessageRetentionPeriod).toBe(Duration.days(14).toSeconds());
    expect(deadLetter.RedrivePolicy).toBeUndefined();
  });

  it('encrypts every queue and refuses plain HTTP on each', () => {
    const queues = Object.keys(service.findResources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(7);
    service.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    for (const id of queues) {
      service.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
        },
      });
    }
  });
});

describe('schedules', () => {
  it('runs the daily and weekly digests with their payloads, cron and time zone from the configuration', () => {
    const digestArn = { 'Fn::GetAtt': [logicalId(s.service, s.service.functions.digest.fn), 'Arn'] };
    for (const [frequency, cron] of [
      ['daily', PRODUCTION_CONTEXT.dailyCron],
      ['weekly', PRODUCTION_CONTEXT.weeklyCron],
    ] as const) {
      service.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: cron,
        ScheduleExpressionTimezone: 'Europe/London',
        FlexibleTimeWindow: { Mode: 'OFF' },
        GroupName: s.service.scheduling.digestGroupName,
        Target: Match.objectLike({
          Arn: digestArn,
          Input: JSON.stringify({ frequency, scheduledAt: '<aws.scheduler.scheduled-time>' }),
          // Scheduler tries to hand a run to Lambda as often and as long as Lambda retries a failed one.
          RetryPolicy: { MaximumRetryAttempts: limits.digest.retryAttempts, MaximumEventAgeInSeconds: limits.digest.maxEventAgeSeconds },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(s.service, s.service.queues.failedEvents), 'Arn'] } },
        }),
      });
    }
    service.resourceCountIs('AWS::Scheduler::Schedule', 3);
  });

  it('sweeps due scheduled articles every minute, so none waits on a failed or early one-time schedule', () => {
    service.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      GroupName: s.service.scheduling.publishGroupName,
      Target: Match.objectLike({
        Input: '{}',
        RoleArn: { 'Fn::GetAtt': [logicalId(s.service, s.service.scheduling.publishRole), 'Arn'] },
        // A sweep that could not be delivered is not retried: the next one comes a minute later.
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      }),
    });
  });

  it('creates the publishing group apart from the digest group, and a role only Scheduler can assume that may only invoke publish-scheduled', () => {
    service.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: s.service.scheduling.publishGroupName });
    service.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: s.service.scheduling.digestGroupName });
    expect(s.service.scheduling.publishGroupName).not.toBe(s.service.scheduling.digestGroupName);

    const roleId = logicalId(s.service, s.service.scheduling.publishRole);
    const role = serviceJson.Resources[roleId].Properties;
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    ]);
    const statements = Object.values<Json>(serviceJson.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref: Json) => ref.Ref === roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'lambda:InvokeFunction' });
    expect(JSON.stringify(statements[0].Resource)).toContain(`:function:${functionProps(s.service.functions.publishScheduled).FunctionName}"`);
    expect(JSON.stringify(statements[0].Resource)).not.toContain('*');
  });
});

describe('SES events', () => {
  const topicArn = () => ({ Ref: logicalId(s.service, s.service.mail.topic) });
  const eventsQueueArn = () => ({ 'Fn::GetAtt': [logicalId(s.service, s.service.mail.queue), 'Arn'] });

  it('lets newsletters honour both reasons of the account-level suppression list, and the confirmation email complaints only (a reader who bounced or was erased can come back)', () => {
    service.hasResourceProperties('AWS::SES::ConfigurationSet', { Name: 'newsletter', SuppressionOptions: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] } });
    service.hasResourceProperties('AWS::SES::ConfigurationSet', { Name: 'transactional', SuppressionOptions: { SuppressedReasons: ['COMPLAINT'] } });
  });

  it('creates the newsletter and transactional configuration sets, each publishing sends, bounces, complaints, rejects, deliveries and delivery delays to SNS', () => {
    for (const name of ['newsletter', 'transactional']) {
      service.hasResourceProperties('AWS::SES::ConfigurationSet', { Name: name });
    }
    const destinations = service.findResources('AWS::SES::ConfigurationSetEventDestination');
    expect(Object.keys(destinations)).toHaveLength(2);
    for (const d of Object.values<Json>(destinations)) {
      expect(d.Properties.EventDestination.SnsDestination).toEqual({ TopicARN: topicArn() });
      expect([...d.Properties.EventDestination.MatchingEventTypes].sort()).toEqual(['bounce', 'complaint', 'delivery', 'deliveryDelay', 'reject', 'send']);
    }
  });

  it('signs the events topic\u2019s messages with SNS signature version 2, and keeps the topic TLS-only', () => {
    const topic = serviceJson.Resources[logicalId(s.service, s.service.mail.topic)].Properties;
    expect(topic.SignatureVersion).toBe('2');
    service.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicArn()],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('subscribes the events queue to the topic with the SNS envelope kept (raw delivery off), and nothing over HTTP(S)', () => {
    const subscriptions = Object.values<Json>(service.findResources('AWS::SNS::Subscription')).map((r) => r.Properties);
    const toTopic = subscriptions.filter((p) => JSON.stringify(p.TopicArn) === JSON.stringify(topicArn()));
    expect(toTopic).toHaveLength(1);
    expect(toTopic[0]).toMatchObject({ Protocol: 'sqs', Endpoint: eventsQueueArn() });
    // The consumer reads the envelope's MessageId to recognise a replayed event.
    expect(toTopic[0].RawMessageDelivery).not.toBe(true);
    expect(subscriptions.filter((p) => p.Protocol === 'https' || p.Protocol === 'http')).toEqual([]);
  });

  it('lets only the events topic send to the events queue', () => {
    const policies = Object.values<Json>(service.findResources('AWS::SQS::QueuePolicy')).filter((r) =>
      r.Properties.Queues.some((q: Json) => q.Ref === logicalId(s.service, s.service.mail.queue)),
    );
    expect(policies).toHaveLength(1);
    const allows = policies[0].Properties.PolicyDocument.Statement.filter((st: Statement) => st.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Principal: { Service: 'sns.amazonaws.com' },
        Resource: eventsQueueArn(),
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn() } },
      }),
    ]);
  });

  it('drives the SesEvents function from the events queue, and keeps the topic\u2019s ARN as an output for the mailto receipt rule', () => {
    const m = Object.values<Json>(service.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (r) => JSON.stringify(r.Properties.EventSourceArn) === JSON.stringify(eventsQueueArn()),
    );
    expect(m).toHaveLength(1);
    expect(m[0].Properties.FunctionName).toEqual({ Ref: logicalId(s.service, s.service.functions.sesEvents.fn) });
    expect(m[0].Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(serviceJson.Outputs.SesEventsTopicArn.Value).toEqual(topicArn());
  });
});

describe('CloudFront', () => {
  let config: Json;
  beforeAll(() => {
    const [distribution] = Object.values<Json>(service.findResources('AWS::CloudFront::Distribution'));
    config = distribution.Properties.DistributionConfig;
  });

  it('serves feeds from the bucket through Origin Access Control with a short, revalidating cache', () => {
    const s3Origin = config.Origins.find((o: Json) => o.S3OriginConfig);
    expect(s3Origin.OriginAccessControlId).toBeDefined();
    expect(s3Origin.DomainName['Fn::ImportValue']).toMatch(/FeedBucket.*RegionalDomainName/);
    expect(config.DefaultCacheBehavior.TargetOriginId).toBe(s3Origin.Id);
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    const policyId = config.DefaultCacheBehavior.CachePolicyId.Ref;
    const policy = serviceJson.Resources[policyId].Properties.CachePolicyConfig;
    expect(policy.DefaultTTL).toBe(Duration.seconds(60).toSeconds());
    expect(policy.MinTTL).toBe(0);
    expect(policy.MaxTTL).toBeLessThanOrEqual(300);
  });

  it('sends every API path to the HTTP API uncached, with all methods and all viewer headers but Host', () => {
    const apiOrigin = config.Origins.find((o: Json) => o.CustomOriginConfig);
    expect(apiOrigin.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] });
    expect(JSON.stringify(apiOrigin.DomainName)).toContain('execute-api');
    expect(config.CacheBehaviors.map((b: Json) => b.PathPattern)).toEqual([...API_PATH_PATTERNS]);
    expect([...API_PATH_PATTERNS]).toEqual(['/api/*', '/subscribe*', '/confirm*', '/preferences*', '/unsubscribe*', '/health', '/admin', '/admin/*']);
    for (const behavior of config.CacheBehaviors) {
      expect(behavior).toMatchObject({
        TargetOriginId: apiOrigin.Id,
        CachePolicyId: CachePolicy.CACHING_DISABLED.cachePolicyId,
        OriginRequestPolicyId: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId,
        ViewerProtocolPolicy: 'https-only',
      });
      expect([...behavior.AllowedMethods].sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
    }
  });

  it('answers on the domain with its certificate over TLS 1.2+, and logs to the access-log bucket', () => {
    expect(config.Aliases).toEqual(['news.example.org']);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: PRODUCTION_CONTEXT.certificateArn,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect(config.Logging.Bucket['Fn::ImportValue']).toMatch(/AccessLogBucket.*RegionalDomainName/);
  });

  it('logs API Gateway access and throttles the stage', () => {
    service.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() }),
    });
  });
});

describe('alarms', () => {
  const alarms = () => Object.values<Json>(service.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
  const alarmTopic = () => ({ Ref: logicalId(s.service, s.service.alarms.topic) });

  it('alarms when any dead-letter queue holds a message', () => {
    const dlq = alarms().filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    const queues = dlq.map((a) => a.Dimensions[0].Value['Fn::GetAtt'][0]).sort();
    expect(queues).toEqual(
      [
        logicalId(s.service, s.service.queues.failedEvents),
        logicalId(s.service, s.service.queues.sendDeadLetter),
        logicalId(s.service, s.service.subscriberJobs.deadLetterQueue),
        logicalId(s.service, s.service.mail.deadLetterQueue),
      ].sort(),
    );
    for (const a of dlq) expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [alarmTopic()] });
  });

  it('alarms on errors of each function', () => {
    const errors = alarms().filter((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda');
    const functions = errors.map((a) => a.Dimensions[0].Value.Ref).sort();
    const deadLetter = s.service.sendDeadLetter.handler;
    const { importFunction, jobsFunction } = s.service.subscriberJobs;
    expect(functions).toEqual([...Object.values(s.service.functions), deadLetter, importFunction, jobsFunction].map((f) => logicalId(s.service, f.fn)).sort());
  });

  it('alarms on the SES account bounce rate above 5% and complaint rate above 0.1%', () => {
    const ses = Object.fromEntries(
      alarms()
        .filter((a) => a.Namespace === 'AWS/SES')
        .map((a) => [a.MetricName, a]),
    );
    expect(ses['Reputation.BounceRate']).toMatchObject({ Threshold: 0.05, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [alarmTopic()] });
    expect(ses['Reputation.ComplaintRate']).toMatchObject({ Threshold: 0.001, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [alarmTopic()] });
  });

  it('emails the configured address', () => {
    service.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: alarmTopic() });
  });
});

describe('deployment guard', () => {
  it('puts no guard rule in a real configuration', () => {
    expect(data.toJSON().Rules?.ExampleConfigurationGuard).toBeUndefined();
    expect(serviceJson.Rules?.ExampleConfigurationGuard).toBeUndefined();
  });
});
