import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, EventType, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { SnsDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** How long a failed batch is kept for a replay. */
export const FAILED_BATCH_RETENTION = Duration.days(30);

/**
 * The stream consumers' on-failure destination: Lambda writes each batch it gave up on (retries or record
 * age spent) here with its records, so it can be replayed (`npm run replay-failed`) after the stream has
 * dropped them. Every object that arrives is announced on the alarm topic.
 */
export class FailedBatches extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-failed-batches', expiration: FAILED_BATCH_RETENTION }],
      // Failed batches are records still to be looked at: a teardown of the service leaves them.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only Lambda writes here (a record per stream batch given up) and only the operator\u2019s replay reads and deletes; each arrival is announced on the alarm topic, and CloudTrail records the API calls. Server access logs would add nothing.',
    });
  }

  /** Announces every failed batch on `topic` (the alarm topic). */
  notify(topic: ITopic): void {
    this.bucket.addEventNotification(EventType.OBJECT_CREATED, new SnsDestination(topic));
  }
}
