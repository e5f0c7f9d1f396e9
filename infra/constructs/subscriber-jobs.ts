import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Bucket, EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TABLE_WRITE_ACTIONS } from './access.ts';
import type { AsyncLimits, QueueConsumerLimits } from '../limits.ts';
import { aboveThresholdAlarm } from './alarms.ts';
import { consumeQueue, invokeAsync } from './event-sources.ts';
import { InkwireFunction } from './inkwire-function.ts';

/** Where uploads land and exports are written in the jobs bucket (the import notification's prefix). */
export const JOB_PREFIXES = { imports: 'imports/', exports: 'exports/' } as const;

/**
 * What an import does to the table: look addresses up (BatchGetItem), write new subscribers and their
 * address claims (BatchWriteItem), confirm pending ones (a transaction of PutItem, UpdateItem, DeleteItem
 * and condition checks), request the confirmation send when asked (PutItem), and move its job record
 * (GetItem, UpdateItem). No index is read.
 */
export const IMPORT_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', ...TABLE_WRITE_ACTIONS] as const;

export interface SubscriberJobsProps {
  table: ITable;
  /** The private jobs bucket of the data stack. */
  bucket: IBucket;
  /** The API function: it creates jobs, signs the upload and download URLs and queues exports. */
  api: InkwireFunction;
  /** The shared settings every function gets. */
  environment: Record<string, string>;
  /** Where its alarms go. */
  alarmTopic: ITopic;
  /**
   * The deployment's limits for the two functions: `subscriberJobs` (the jobs function, its event source
   * and the jobs queue's visibility timeout and receives) and `subscriberImport` (the import function and
   * Lambda's retries of an S3 notification).
   */
  limits: { subscriberJobs: QueueConsumerLimits; subscriberImport: AsyncLimits };
}

/**
 * Subscriber import and export jobs, for files that cannot pass through API Gateway and the API function
 * (6 MB, 15 s):
 *
 * - **import**: the client PUTs the CSV to a presigned URL under `imports/`; the bucket's ObjectCreated
 *   notification invokes the import function, which runs the job and deletes the file. Failed invocations
 *   (after Lambda's retries, `subscriberImport.retryAttempts`) go to the jobs dead-letter queue.
 * - **export**: the API queues the job on the jobs queue; the jobs function writes the CSV under
 *   `exports/` by multipart upload; the API hands out a presigned GET URL.
 *
 * Two functions rather than one: an import writes subscribers (and requests a confirmation send when
 * asked), an export only reads the whole list; each role has only what its job needs. Neither sends mail:
 * an import's confirmation emails go out as a send, through the send queue and worker.
 */
export class SubscriberJobs extends Construct {
  readonly importFunction: InkwireFunction;
  readonly jobsFunction: InkwireFunction;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: SubscriberJobsProps) {
    super(scope, id);
    const { table } = props;
    // A named export of the bucket's ARN, so that the acknowledgements below can name the resources.
    const dataStack = Stack.of(props.bucket);
    const bucketArnExport = `${dataStack.stackName}-JobsBucketArn`;
    const bucketArn = dataStack.exportValue(props.bucket.bucketArn, { name: bucketArnExport });
    // Imported by attributes: the notification is configured from this stack (a custom resource that
    // adds it to the bucket's configuration), so the data stack never depends on this one.
    const bucket = Bucket.fromBucketAttributes(this, 'JobsBucketRef', { bucketArn, bucketName: props.bucket.bucketName });
    const objects = (prefix: string) => `${bucketArn}/${prefix}*`;
    const jobsEnv = { JOBS_BUCKET: props.bucket.bucketName };

    this.deadLetterQueue = new Queue(this, 'JobsDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This queue is itself a dead-letter queue (the end of the line for import notifications that failed Lambda\u2019s retries and export messages that failed every receive); a redrive policy on it would only move failures one queue further. Its messages are kept 14 days and alarmed on, and are redriven by hand after the fix.',
    });
    // The visibility timeout follows Lambda's guidance for SQS event sources (six function timeouts, see
    // `visibilityFor`), so a message is not handed to a second run while the first, throttled and retried,
    // still holds it.
    const { subscriberJobs: jobsLimits, subscriberImport: importLimits } = props.limits;
    this.queue = new Queue(this, 'JobsQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(jobsLimits.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: jobsLimits.maxReceiveCount },
    });

    this.importFunction = new InkwireFunction(this, 'Import', {
      entry: 'subscriberImport',
      description: 'Runs a subscriber import job when its CSV is uploaded to the jobs bucket (S3 ObjectCreated under imports/)',
      limits: importLimits,
      environment: { ...props.environment, ...jobsEnv },
      statements: [
        new PolicyStatement({ actions: [...IMPORT_TABLE_ACTIONS], resources: [table.tableArn] }),
        // Reads the upload and deletes it once read (it holds personal data). Nothing else in the bucket.
        new PolicyStatement({ actions: ['s3:GetObject', 's3:DeleteObject'], resources: [objects(JOB_PREFIXES.imports)] }),
      ],
    });
    // S3 invokes asynchronously: after Lambda's retries, the event is kept in the dead-letter queue.
    invokeAsync(this.importFunction, importLimits, this.deadLetterQueue);
    bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(this.importFunction.fn), { prefix: JOB_PREFIXES.imports, suffix: '.csv' });
    // CDK writes the notification with its own small function (one per stack), whose role has the basic
    // execution managed policy: it only writes its logs, and its other permission is s3:PutBucketNotification.
    for (const handler of Stack.of(this).node.children.filter((c) => c.node.id.startsWith('BucketNotificationsHandler'))) {
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'CDK\u2019s bucket-notification custom resource handler (it adds the imports/ ObjectCreated notification to the jobs bucket at deploy time) comes with the AWS managed basic execution policy, which only allows writing its own logs.',
      });
    }

    this.jobsFunction = new InkwireFunction(this, 'Jobs', {
      entry: 'subscriberJobs',
      description: 'Runs subscriber export jobs from the jobs queue: writes every subscriber as CSV to the jobs bucket',
      limits: jobsLimits,
      environment: { ...props.environment, ...jobsEnv },
      statements: [
        // Moves its job record, and reads the subscriber list by status (GSI1). No other write.
        new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [table.tableArn] }),
        new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${table.tableArn}/index/GSI1`] }),
        // Multipart upload (Create, UploadPart, Complete are s3:PutObject) and its abort, under exports/ only.
        new PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [objects(JOB_PREFIXES.exports)] }),
      ],
    });
    // One message at a time, and the least concurrency Lambda allows: exports are rare, and each reads the whole list.
    consumeQueue(this.jobsFunction, this.queue, jobsLimits);

    // The API signs the URLs with its own credentials, so it may do what the URLs allow, and no more.
    props.api.role.addToPolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [objects(JOB_PREFIXES.imports)] }));
    props.api.role.addToPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [objects(JOB_PREFIXES.exports)] }));
    props.api.role.addToPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }));
    props.api.fn.addEnvironment('JOBS_BUCKET', props.bucket.bucketName);
    props.api.fn.addEnvironment('JOBS_QUEUE_URL', this.queue.queueUrl);

    for (const [fn, prefix, why] of [
      [
        this.importFunction,
        JOB_PREFIXES.imports,
        'Uploads are keyed by import job id, known only at run time; the function may only read and delete objects under imports/, where nothing but uploaded CSVs is kept.',
      ],
      [
        this.jobsFunction,
        JOB_PREFIXES.exports,
        'Exports are keyed by export job id, known only at run time; the function may only write (and abort multipart uploads of) objects under exports/.',
      ],
      [
        props.api,
        JOB_PREFIXES.imports,
        'The API presigns upload URLs for import job ids known only at run time: it may only put objects under imports/ (and, by the next statement, get objects under exports/) and signs nothing else.',
      ],
      [
        props.api,
        JOB_PREFIXES.exports,
        'The API presigns download URLs for export job ids known only at run time: it may only get objects under exports/, which holds nothing but export files.',
      ],
    ] as const) {
      Validations.of(fn.role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${bucketArnExport}/${prefix}*]`, reason: why });
    }

    this.alarms.push(
      aboveThresholdAlarm(this, 'ImportErrors', props.alarmTopic, {
        description:
          'The subscriber import function failed (an unexpected error, a timeout or running out of memory); the job is marked failed with a reason. Look at its logs.',
        metric: this.importFunction.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      }),
    );
    this.alarms.push(
      aboveThresholdAlarm(this, 'JobsErrors', props.alarmTopic, {
        description:
          'The subscriber jobs function failed an export (an unexpected error, a timeout or running out of memory); the job is marked failed with a reason. Look at its logs.',
        metric: this.jobsFunction.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      }),
    );
    this.alarms.push(
      aboveThresholdAlarm(this, 'DeadLetters', props.alarmTopic, {
        description:
          'An import notification or an export message failed for good and waits in the jobs dead-letter queue; its job shows failed or stopped. Look at the import and jobs functions\u2019 logs.',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      }),
    );

    new CfnOutput(this, 'ImportLogGroup', {
      description: 'Logs of the subscriber import function (aws logs tail <name> --follow)',
      value: this.importFunction.logGroup.logGroupName,
    });
    new CfnOutput(this, 'JobsLogGroup', {
      description: 'Logs of the subscriber jobs function (aws logs tail <name> --follow)',
      value: this.jobsFunction.logGroup.logGroupName,
    });
  }
}
