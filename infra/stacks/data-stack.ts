import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { DkimIdentity, EasyDkimSigningKeyLength, EmailIdentity, Identity, MailFromBehaviorOnMxFailure } from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../lambdas/adapters/dynamodb/table-schema.ts';
import type { InkwireConfig } from '../config.ts';
import { guardExampleDeployment } from './example-guard.ts';

export interface DataStackProps extends StackProps {
  config: InkwireConfig;
}

/**
 * Everything that holds state, kept apart from the compute so that the service stack can be replaced,
 * renamed or torn down without touching data. Each resource here is retained when the stack is
 * deleted; the table additionally has deletion protection.
 */
export class DataStack extends Stack {
  readonly table: Table;
  readonly feedBucket: Bucket;
  readonly logBucket: Bucket;
  /** Subscriber import uploads and export files (personal data, kept a day at most); never served by CloudFront. */
  readonly jobsBucket: Bucket;
  readonly tokenSecret: Secret;
  readonly publisherKeySecret: Secret;
  /** The value CloudFront sends to the API as its origin header; the API refuses requests without it. */
  readonly originSecret: Secret;
  readonly emailIdentity: EmailIdentity;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    guardExampleDeployment(this, config);

    // The same shape the local runtime creates in DynamoDB Local, so the two never drift.
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      stream: StreamViewType[TABLE_SCHEMA.streamViewType],
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of TABLE_SCHEMA.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType[index.projection],
      });
    }

    // Receives the feed bucket's server access logs and CloudFront's standard logs. CloudFront's log
    // delivery needs ACLs enabled on its bucket (bucket owner preferred: the log files still belong to
    // this account); public access stays blocked.
    this.logBucket = new Bucket(this, 'AccessLogBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket is the access-log destination for the feed bucket and CloudFront; logging its own accesses into itself would loop, and a second log bucket would only move the finding.',
    });

    // Feeds, tag/author feeds and archive pages, written by the feed rebuilder and served only through
    // CloudFront. Versioned so a bad rebuild can be rolled back; old versions expire after 30 days
    // because every rebuild of a changed document adds one.
    //
    // Its bucket policy is in the service stack (infra/constructs/edge.ts), not here: the policy lets
    // CloudFront read through Origin Access Control only on behalf of the one distribution, whose id this
    // stack cannot name without depending on the service stack (a cycle). A bucket has one policy, so
    // TLS-only access (enforceSSL, TLS 1.2) is in that policy too, and no statement may be added here.
    this.feedBucket = new Bucket(this, 'FeedBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      versioned: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'feed-bucket/',
      lifecycleRules: [
        {
          id: 'expire-old-versions',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.feedBucket).acknowledge({
      id: 'AwsSolutions-S10',
      reason:
        'The feed bucket\u2019s policy, which denies every request without TLS (and below TLS 1.2), is written by the service stack\u2019s Edge construct together with the grant to its one CloudFront distribution (a bucket has one policy, and only that stack can name the distribution).',
    });

    // Subscriber CSVs: imports uploaded by presigned URL (deleted once read) and exports written for
    // download. Personal data, so it is private, unversioned (a delete really deletes) and emptied within
    // a day or two by the lifecycle, whatever a job did. The API reaches it by presigned URLs only.
    this.jobsBucket = new Bucket(this, 'JobsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'jobs-bucket/',
      lifecycleRules: [{ id: 'expire-job-files', expiration: Duration.days(1), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Secrets are state too: a new token key would invalidate every confirmation and unsubscribe link
    // already sent, and a new publisher key would lock out the publisher's scripts.
    this.tokenSecret = new Secret(this, 'TokenSigningKey', {
      description: `Inkwire (${config.domain}): HMAC key that signs subscriber tokens (confirm, preferences, unsubscribe links)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.tokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the token signing key would invalidate every unsubscribe and preferences link in emails already delivered (one-click unsubscribe must keep working); rotate by hand, with a grace period, if the key leaks.',
    });
    this.publisherKeySecret = new Secret(this, 'PublisherApiKey', {
      description: `Inkwire (${config.domain}): API key of the publisher API (Authorization: Bearer ...)`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.publisherKeySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The publisher API key is held by the publisher\u2019s own tools outside AWS; automatic rotation would silently break them, so it is rotated by hand (see the deploy guide).',
    });

    // Sent by CloudFront to the API as a custom origin header: the API answers no request without it, so
    // its execute-api endpoint, reachable from anywhere, is no way around CloudFront (and cannot pick the
    // client address that subscribe limits count).
    this.originSecret = new Secret(this, 'OriginVerifySecret', {
      description: `Inkwire (${config.domain}): value of the origin header CloudFront sends to the API; the API refuses requests without it`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.originSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'CloudFront receives the value at deploy time (a CloudFormation dynamic reference in the distribution\u2019s origin headers), so an automatic rotation would not reach it until the next update of the distribution; it is rotated by hand (see the deploy guide), and the API accepts the previous value meanwhile.',
    });

    // The sending domain. Recreating it would issue new DKIM tokens and break DNS, so it is retained.
    this.emailIdentity = new EmailIdentity(this, 'EmailIdentity', {
      identity: Identity.domain(config.domain),
      dkimSigning: true,
      dkimIdentity: DkimIdentity.easyDkim(EasyDkimSigningKeyLength.RSA_2048_BIT),
      mailFromDomain: config.mailFromDomain,
      mailFromBehaviorOnMxFailure: MailFromBehaviorOnMxFailure.USE_DEFAULT_VALUE,
    });
    this.emailIdentity.applyRemovalPolicy(RemovalPolicy.RETAIN);

    this.emailIdentity.dkimRecords.forEach((record, i) => {
      new CfnOutput(this, `DkimRecord${i + 1}`, {
        description: `DNS: CNAME ${i + 1} of 3 for Easy DKIM`,
        value: `${record.name} CNAME ${record.value}`,
      });
    });
    new CfnOutput(this, 'MailFromMxRecord', {
      description: 'DNS: MX record of the custom MAIL FROM domain',
      value: `${config.mailFromDomain} MX 10 feedback-smtp.${Aws.REGION}.amazonses.com`,
    });
    new CfnOutput(this, 'MailFromSpfRecord', {
      description: 'DNS: SPF record of the custom MAIL FROM domain',
      value: `${config.mailFromDomain} TXT "v=spf1 include:amazonses.com ~all"`,
    });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'FeedBucketName', { value: this.feedBucket.bucketName });
    new CfnOutput(this, 'JobsBucketName', { value: this.jobsBucket.bucketName });
    new CfnOutput(this, 'PublisherApiKeySecretArn', {
      description: 'Read the publisher API key with: aws secretsmanager get-secret-value --secret-id <arn>',
      value: this.publisherKeySecret.secretArn,
    });
  }
}
