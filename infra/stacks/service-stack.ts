import { ArnFormat, CfnOutput, Stack, Validations, Token, type StackProps } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { FEED_REBUILD_FILTER, SEND_PLANNER_FILTER } from '../../lambdas/handlers/stream-filters.ts';
import type { InkwireConfig } from '../config.ts';
import { configurationSetArn, sesSendStatement, TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS, tableStatement } from '../constructs/access.ts';
import { Alarms } from '../constructs/alarms.ts';
import { OperationsDashboard } from '../constructs/dashboard.ts';
import { Edge } from '../constructs/edge.ts';
import { consumeQueue, consumeStream, invokeAsync } from '../constructs/event-sources.ts';
import { InkwireFunction } from '../constructs/inkwire-function.ts';
import { CONFIGURATION_SET_NAMES, MailEvents } from '../constructs/mail-events.ts';
import { FailedBatches } from '../constructs/failed-batches.ts';
import { Queues } from '../constructs/queues.ts';
import { Scheduling } from '../constructs/scheduling.ts';
import { SubscriberJobs } from '../constructs/subscriber-jobs.ts';
import { SendDeadLetter } from '../constructs/send-dead-letter.ts';
import { deploymentLimits, type DeploymentLimits } from '../limits.ts';
import type { DataStack } from './data-stack.ts';
import { guardExampleDeployment } from './example-guard.ts';

const FEED_BUCKET_ARN_EXPORT = (data: DataStack) => `${data.stackName}-FeedBucketArn`;

/** ses:GetSendQuota has no resource type: it reads the account's own sending quota and rate. */
const readSendQuota = () => new PolicyStatement({ actions: ['ses:GetSendQuota'], resources: ['*'] });
/** SES's account-level suppression list (SES v2): kept in step with ours (hard bounces, complaints, erasures; lifted on a fresh confirmation). */
const editSuppressionList = () => new PolicyStatement({ actions: ['ses:PutSuppressedDestination', 'ses:DeleteSuppressedDestination'], resources: ['*'] });
const SUPPRESSION_LIST_REASON =
  'ses:PutSuppressedDestination and ses:DeleteSuppressedDestination act on the account-level suppression list, which has no ARN (the IAM reference lists no resource type for them); they only add or remove one address.';
const SEND_QUOTA_REASON =
  'ses:GetSendQuota supports no resource-level permission (the IAM reference lists no resource type for it); it only reads the account\u2019s sending quota.';

/**
 * The stream event source grants dynamodb:ListStreams, which cannot be scoped to a resource (nor can
 * `alsoUnscoped`, said why, in the same finding).
 */
function acknowledgeListStreams(f: InkwireFunction, alsoUnscoped?: string): void {
  Validations.of(f.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'dynamodb:ListStreams, required by the stream event source mapping, supports no resource-level permission; the stream reads themselves (DescribeStream, GetRecords, GetShardIterator) are scoped to the table\u2019s stream ARN.' +
      (alsoUnscoped ? ` ${alsoUnscoped}` : ''),
  });
}

export interface ServiceStackProps extends StackProps {
  config: InkwireConfig;
  data: DataStack;
}

/**
 * The stateless part: functions, queues, schedules, the HTTP API, CloudFront, SES configuration sets
 * and alarms. Nothing here holds data that a redeploy or a teardown could lose, except messages in
 * flight in the queues.
 *
 * Every number that shapes how a function runs (timeout, memory, event source batching, concurrency and
 * retries, queue visibility and receives, asynchronous retries) comes from `deploymentLimits` of the
 * configured SES rate (infra/limits.ts), which the local runtime runs under too.
 */
export class ServiceStack extends Stack {
  readonly functions: Record<'api' | 'feedRebuild' | 'sendPlanner' | 'sendWorker' | 'sesEvents' | 'publishScheduled' | 'digest', InkwireFunction>;
  readonly queues: Queues;
  /** Stream batches the feed rebuilder and the send planner gave up on, with their records, for a replay. */
  readonly failedBatches: FailedBatches;
  readonly mail: MailEvents;
  readonly scheduling: Scheduling;
  readonly edge: Edge;
  readonly alarms: Alarms;
  /** The operations dashboard (`Inkwire-<region>`). */
  readonly dashboard: OperationsDashboard;
  readonly subscriberJobs: SubscriberJobs;
  readonly sendDeadLetter: SendDeadLetter;
  /** `deploymentLimits(config.sesMaxSendRate)`: what every function, event source and queue here is built from. */
  readonly limits: DeploymentLimits;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    guardExampleDeployment(this, config);
    const limits = deploymentLimits(config.sesMaxSendRate);
    this.limits = limits;
    const { table } = data;
    // A named export, so that the acknowledgement below can name the resource it is about.
    const feedBucketArn = data.exportValue(data.feedBucket.bucketArn, { name: FEED_BUCKET_ARN_EXPORT(data) });

    this.queues = new Queues(this, 'Queues', { limits });
    this.failedBatches = new FailedBatches(this, 'FailedBatches');
    this.mail = new MailEvents(this, 'Mail', { limits });

    const identityArn = data.emailIdentity.emailIdentityArn;
    const newsletterSetArn = configurationSetArn(this, CONFIGURATION_SET_NAMES.newsletter);
    const transactionalSetArn = configurationSetArn(this, CONFIGURATION_SET_NAMES.transactional);
    const sendToQueue = new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queues.send.queueArn] });
    const readSecret = (arn: string) => new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [arn] });
    const readWrite = [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS];

    // Every function gets the site and mail settings; a variable that names a resource is only given to
    // a function that is allowed to use that resource.
    const shared: Record<string, string> = {
      TABLE_NAME: table.tableName,
      FEED_BUCKET: data.feedBucket.bucketName,
      SITE_URL: config.siteUrl,
      PUBLIC_URL: config.publicUrl,
      SITE_PAGES: config.sitePages ? 'on' : 'off',
      SITE_TITLE: config.siteTitle,
      SITE_DESCRIPTION: config.siteDescription,
      SITE_LANGUAGE: config.language,
      FEED_ITEM_LIMIT: String(config.feedItemLimit),
      MAIL_FROM: config.senderAddress,
      MAIL_FROM_NAME: config.senderName,
      POSTAL_ADDRESS: config.postalAddress,
      SES_CONFIGURATION_SET_NEWSLETTER: this.mail.newsletter.configurationSetName,
      SES_CONFIGURATION_SET_TRANSACTIONAL: this.mail.transactional.configurationSetName,
      SES_MAX_SEND_RATE: String(config.sesMaxSendRate),
      DEFAULT_FREQUENCY: config.defaultFrequency,
      ...(config.websubHub ? { WEBSUB_HUB: config.websubHub } : {}),
      ...(config.siteLogoUrl ? { SITE_LOGO_URL: config.siteLogoUrl } : {}),
      ...(config.siteAccentColor ? { SITE_ACCENT_COLOR: config.siteAccentColor } : {}),
      ...(config.siteFooterText ? { SITE_FOOTER_TEXT: config.siteFooterText } : {}),
    };
    const queueEnv = { SEND_QUEUE_URL: this.queues.send.queueUrl };

    const feedRebuild = new InkwireFunction(this, 'FeedRebuild', {
      entry: 'feedRebuild',
      description: 'Rebuilds feeds, archive pages and the site pages in S3 from FEED# changes on the table stream',
      limits: limits.feedRebuild,
      environment: shared,
      statements: [
        tableStatement(table, TABLE_READ_ACTIONS),
        // HeadObject is authorized by s3:GetObject. Without s3:ListBucket a missing key answers 403,
        // which the document store treats like 404.
        new PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [`${feedBucketArn}/*`],
        }),
      ],
    });
    Validations.of(feedRebuild.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${FEED_BUCKET_ARN_EXPORT(data)}/*]`,
      reason:
        'Feed and archive documents are keyed by feed, tag, author and month, all known only at run time; the bucket holds nothing but these generated documents, and only get/put/delete of objects is allowed.',
    });
    acknowledgeListStreams(feedRebuild);
    // Its batching window collects the several writes of one publish into one rebuild.
    consumeStream(feedRebuild, table, limits.feedRebuild, { filters: [FilterCriteria.filter(FEED_REBUILD_FILTER)], onFailure: this.failedBatches.bucket });

    const sendPlanner = new InkwireFunction(this, 'SendPlanner', {
      entry: 'sendPlanner',
      description: 'Plans a Send (SEND#/SEND items on the table stream) into batches on the send queue',
      limits: limits.sendPlanner,
      environment: { ...shared, ...queueEnv },
      statements: [
        tableStatement(table, readWrite),
        sendToQueue,
        // Reads the account's 24-hour quota before queueing a page: a send that does not fit pauses.
        readSendQuota(),
        // A digest that went out gets its public archive page and the archive feeds, under archive/ only.
        new PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [`${feedBucketArn}/archive/*`] }),
      ],
    });
    Validations.of(sendPlanner.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${FEED_BUCKET_ARN_EXPORT(data)}/archive/*]`,
      reason: 'Archive pages are keyed by send id, known only at run time; the planner may get and put objects under archive/ and nowhere else in the bucket.',
    });
    consumeStream(sendPlanner, table, limits.sendPlanner, { filters: [FilterCriteria.filter(SEND_PLANNER_FILTER)], onFailure: this.failedBatches.bucket });
    acknowledgeListStreams(sendPlanner, SEND_QUOTA_REASON);

    const sendWorker = new InkwireFunction(this, 'SendWorker', {
      entry: 'sendWorker',
      description: 'Sends the emails of one batch through SES at the configured rate',
      limits: limits.sendWorker,
      // SES_MAX_SEND_RATE (shared) is all it needs to pace and size itself: it computes its share of the
      // rate, its reserve and its batch from deploymentLimits of that rate, as this stack does.
      environment: { ...shared, ...queueEnv, TOKEN_SECRET_ARN: data.tokenSecret.secretArn },
      statements: [
        // The send, its content, tally markers, delivery records, subscribers, suppressions and the pacing
        // item, all by key on the table itself: no index, no delete.
        new PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
          resources: [table.tableArn],
        }),
        sesSendStatement(identityArn, [newsletterSetArn]),
        // Reads the account's 24-hour quota as it sends.
        readSendQuota(),
        // Hands the rest of a batch it could not finish within its time on to the send queue, as a new message.
        sendToQueue,
        readSecret(data.tokenSecret.secretArn),
      ],
    });
    // At most `sendWorker.maximumConcurrency` workers (sendWorkersFor the SES rate) run at once; they share
    // the account's rate through the pacing item in the table, so their number never makes them exceed it.
    consumeQueue(sendWorker, this.queues.send, limits.sendWorker);
    Validations.of(sendWorker.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: SEND_QUOTA_REASON,
    });

    // SES's events (SNS to the events queue) and what the mailto unsubscribe receipt rule publishes to the
    // same topic: suppressions and per-send counts. It reads the envelope's MessageId to recognise a
    // replayed event.
    const sesEvents = new InkwireFunction(this, 'SesEvents', {
      entry: 'sesEvents',
      description: 'Applies SES events (sends, deliveries, bounces, complaints, rejects, delays) and mailto unsubscribes: suppression and per-send reports',
      limits: limits.sesEvents,
      // The token key verifies the unsubscribe token of a mailto unsubscribe (SES receiving).
      environment: { ...shared, TOKEN_SECRET_ARN: data.tokenSecret.secretArn },
      statements: [
        // Subscribers, suppressions, delivery records and the send's counts, by key on the table itself:
        // no index, no delete.
        new PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
          resources: [table.tableArn],
        }),
        readSecret(data.tokenSecret.secretArn),
        // A hard bounce or a complaint goes onto SES's account-level list as well.
        editSuppressionList(),
      ],
    });
    Validations.of(sesEvents.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: SUPPRESSION_LIST_REASON });
    // An event that fails `sesEvents.maxReceiveCount` receives goes to the events dead-letter queue, which
    // an alarm watches.
    consumeQueue(sesEvents, this.mail.queue, limits.sesEvents);

    // It only creates the digest's Send item; the send planner (on the stream) queues its batches.
    const digest = new InkwireFunction(this, 'Digest', {
      entry: 'digest',
      description: 'Starts the daily or weekly digest Send for subscribers of that frequency',
      limits: limits.digest,
      environment: shared,
      // One conditional put of the slot's Send item.
      statements: [new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [table.tableArn] })],
    });
    // Scheduler invokes it asynchronously: a run that failed Lambda's retries is kept with the other failed events.
    invokeAsync(digest, limits.digest, this.queues.failedEvents);

    // The article use cases build their scheduler from SCHEDULER_GROUP_NAME, SCHEDULER_ROLE_ARN and
    // PUBLISH_FUNCTION_ARN in every function that runs them, publish-scheduled included. A function
    // cannot reference its own ARN (a circular dependency), so that one has a fixed name and its ARN is
    // spelled out. It gets the variables but no scheduler permission: publishing never schedules.
    const publishFunctionName = `${this.stackName}-publish-scheduled`;
    const publishFunctionArn = this.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: publishFunctionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    this.scheduling = new Scheduling(this, 'Scheduling', {
      publishFunctionArn,
      digestFunction: digest.fn,
      digestLimits: limits.digest,
      deadLetterQueue: this.queues.failedEvents,
      dailyCron: config.dailyCron,
      weeklyCron: config.weeklyCron,
      timezone: config.timezone,
    });
    const schedulerEnv = {
      SCHEDULER_GROUP_NAME: this.scheduling.publishGroupName,
      SCHEDULER_ROLE_ARN: this.scheduling.publishRole.roleArn,
      PUBLISH_FUNCTION_ARN: publishFunctionArn,
    };

    const publishScheduled = new InkwireFunction(this, 'PublishScheduled', {
      entry: 'publishScheduled',
      functionName: publishFunctionName,
      description: 'Publishes a scheduled article when its EventBridge Scheduler one-time schedule fires',
      limits: limits.publishScheduled,
      environment: { ...shared, ...schedulerEnv },
      statements: [tableStatement(table, readWrite)],
    });
    // Scheduler invokes it asynchronously (one-time schedules and the sweep): a run that failed Lambda's
    // retries is kept with the other failed events (the sweep publishes whatever is still due anyway).
    invokeAsync(publishScheduled, limits.publishScheduled, this.queues.failedEvents);

    const api = new InkwireFunction(this, 'Api', {
      entry: 'api',
      description: 'HTTP API: subscriptions, confirmation, preferences, unsubscribe, publisher API',
      limits: limits.api,
      // No send queue: creating, resuming or cancelling a send only writes its Send item; the send planner
      // (on the stream) queues the batches. Its own mail (confirmations, test sends) reserves sending
      // instants from the pacing item in the table, which its table statement covers.
      environment: {
        ...shared,
        TOKEN_SECRET_ARN: data.tokenSecret.secretArn,
        PUBLISHER_KEY_SECRET_ARN: data.publisherKeySecret.secretArn,
        ORIGIN_SECRET_ARN: data.originSecret.secretArn,
        // The Easy DKIM CNAME targets SES issued for the domain: the console checks that DNS has them.
        DKIM_RECORDS: [data.emailIdentity.dkimDnsTokenValue1, data.emailIdentity.dkimDnsTokenValue2, data.emailIdentity.dkimDnsTokenValue3].join(','),
        ...schedulerEnv,
      },
      statements: [
        tableStatement(table, readWrite),
        // Transactional: confirmation and welcome mail. Newsletter: a publisher's test send (POST /api/sends/test).
        sesSendStatement(identityArn, [transactionalSetArn, newsletterSetArn]),
        new PolicyStatement({
          actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'],
          resources: [this.scheduling.publishScheduleArns()],
        }),
        new PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.scheduling.publishRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        }),
        readSecret(data.tokenSecret.secretArn),
        readSecret(data.publisherKeySecret.secretArn),
        readSecret(data.originSecret.secretArn),
        // An erasure puts the address on SES's account-level list; a fresh confirmation takes it off.
        editSuppressionList(),
      ],
    });
    Validations.of(api.role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: SUPPRESSION_LIST_REASON });
    Validations.of(api.role).acknowledge({
      // cdk-nag names the region and account as the template has them: literal when the stack is pinned to them.
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:${Token.isUnresolved(this.region) ? '<AWS::Region>' : this.region}:${Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account}:schedule/${this.scheduling.publishGroupName}/*]`,
      reason:
        'Each scheduled article gets its own one-time schedule, named at run time; the wildcard is confined to the publishing schedule group (the digest schedules are in another group).',
    });
    Validations.of(api.fn).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked only synchronously, by API Gateway for each HTTP request, which gets the error as its answer; a Lambda dead-letter queue only receives failed asynchronous invocations, which this function never has.',
    });

    this.functions = { api, feedRebuild, sendPlanner, sendWorker, sesEvents, publishScheduled, digest };

    this.edge = new Edge(this, 'Edge', {
      apiFunction: api.fn,
      feedBucket: data.feedBucket,
      logBucket: data.logBucket,
      domain: config.domain,
      certificateArn: config.certificateArn,
      originSecret: data.originSecret,
      wafRateLimit: config.wafRateLimit,
    });

    this.alarms = new Alarms(this, 'Alarms', {
      alarmEmail: config.alarmEmail,
      functions: Object.fromEntries(Object.entries(this.functions).map(([name, f]) => [name, f.fn])),
      deadLetterQueues: { send: this.queues.sendDeadLetter, failedEvents: this.queues.failedEvents, sesEvents: this.mail.deadLetterQueue },
      sendQueue: this.queues.send,
      streamConsumers: { feedRebuild: feedRebuild.fn, sendPlanner: sendPlanner.fn },
      httpApi: this.edge.httpApi,
      table,
      sesEventsTopic: this.mail.topic,
      monthlyBudgetUsd: config.monthlyBudgetUsd,
    });
    // Settles each batch the send worker gave up on, so its send completes; alarms when one arrives.
    this.sendDeadLetter = new SendDeadLetter(this, 'SendDeadLetter', {
      table,
      deadLetterQueue: this.queues.sendDeadLetter,
      environment: shared,
      alarmTopic: this.alarms.topic,
      limits: limits.sendDeadLetter,
    });

    // Subscriber import and export jobs: files by presigned URL in the jobs bucket, work off the request.
    this.subscriberJobs = new SubscriberJobs(this, 'SubscriberJobs', {
      table,
      bucket: data.jobsBucket,
      api,
      environment: shared,
      alarmTopic: this.alarms.topic,
      limits,
    });
    const laterFunctions = {
      sendDeadLetter: this.sendDeadLetter.handler.fn,
      subscriberImport: this.subscriberJobs.importFunction.fn,
      subscriberJobs: this.subscriberJobs.jobsFunction.fn,
    };
    this.alarms.watchFunctions(laterFunctions);

    this.dashboard = new OperationsDashboard(this, 'Operations', {
      functions: { ...Object.fromEntries(Object.entries(this.functions).map(([name, f]) => [name, f.fn])), ...laterFunctions },
      streamConsumers: { feedRebuild: feedRebuild.fn, sendPlanner: sendPlanner.fn },
      sendQueue: this.queues.send,
      sesEventsQueue: this.mail.queue,
      deadLetterQueues: {
        send: this.queues.sendDeadLetter,
        failedEvents: this.queues.failedEvents,
        sesEvents: this.mail.deadLetterQueue,
        jobs: this.subscriberJobs.deadLetterQueue,
      },
      httpApi: this.edge.httpApi,
      table,
      sesEventsTopic: this.mail.topic,
      configurationSets: [this.mail.newsletter.configurationSetName, this.mail.transactional.configurationSetName],
      alarms: [...this.alarms.alarms, ...this.sendDeadLetter.alarms, ...this.subscriberJobs.alarms],
    });

    new CfnOutput(this, 'DistributionDomainName', {
      description: `DNS: point ${config.domain} here (CNAME, or an alias A/AAAA record in Route 53)`,
      value: this.edge.distribution.distributionDomainName,
    });
    for (const [name, f] of Object.entries(this.functions)) {
      new CfnOutput(this, `${name[0]!.toUpperCase()}${name.slice(1)}LogGroup`, {
        description: `Logs of the ${name} function (aws logs tail <name> --follow)`,
        value: f.logGroup.logGroupName,
      });
    }
    // The mailto unsubscribe receipt rule publishes to this topic; SES's events arrive on it too.
    new CfnOutput(this, 'SesEventsTopicArn', { value: this.mail.topic.topicArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    // Every failed stream batch is announced on the alarm topic; `npm run replay-failed -- --bucket <this>` replays them.
    this.failedBatches.notify(this.alarms.topic);
    new CfnOutput(this, 'FeedRebuildFunctionName', {
      description: "Writes every page of the site at once with this function's settings: npm run build-site -- --function <this name>",
      value: this.functions.feedRebuild.fn.functionName,
    });
    new CfnOutput(this, 'FailedBatchesBucketName', {
      description: 'Stream batches given up on: npm run replay-failed -- --bucket <this name>',
      value: this.failedBatches.bucket.bucketName,
    });
  }
}
