import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { systemClock } from '../core/clock.ts';
import { StaticApiKeys } from '../core/auth.ts';
import type { ArticleDeps } from '../core/articles/use-cases.ts';
import type { FeedRebuildDeps } from '../core/feeds/rebuild.ts';
import type { SiteConfig } from '../core/site.ts';
import { DynamoArticleRepository } from '../adapters/dynamodb/article-repository.ts';
import { S3DocumentStore } from '../adapters/s3/s3-document-store.ts';
import { EventBridgePublishScheduler } from '../adapters/scheduler/eventbridge-scheduler.ts';
import { HttpHubNotifier } from '../adapters/websub.ts';
import { parseEnv, siteConfigFrom, SiteEnvSchema } from '../config.ts';

/**
 * The AWS composition root. Each Lambda builds what it needs once per container (lazily, on the first
 * event), from environment validated here; a missing variable fails fast naming it.
 */
const AwsEnvSchema = SiteEnvSchema.extend({
  TABLE_NAME: z.string().min(1),
  SITE_URL: z.string().url(),
  PUBLIC_URL: z.string().url(),
  FEED_BUCKET: z.string().min(1).optional(),
  PUBLISHER_KEY_SECRET_ARN: z.string().min(1).optional(),
  TOKEN_SECRET_ARN: z.string().min(1).optional(),
  SCHEDULER_GROUP_NAME: z.string().min(1).optional(),
  SCHEDULER_ROLE_ARN: z.string().min(1).optional(),
  PUBLISH_FUNCTION_ARN: z.string().min(1).optional(),
});
export type AwsEnv = z.infer<typeof AwsEnvSchema>;

let envCache: AwsEnv | undefined;
export const awsEnv = (): AwsEnv => (envCache ??= parseEnv(AwsEnvSchema, process.env));

const once = <T>(make: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= make());
};

export const dynamo = once(() => DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }));
export const site = once((): SiteConfig => siteConfigFrom(awsEnv(), awsEnv().PUBLIC_URL!));
export const articleRepository = once(() => new DynamoArticleRepository(dynamo(), awsEnv().TABLE_NAME));

function required<K extends keyof AwsEnv>(key: K): NonNullable<AwsEnv[K]> {
  const v = awsEnv()[key];
  if (v === undefined) throw new Error(`environment variable ${String(key)} is required by this function`);
  return v as NonNullable<AwsEnv[K]>;
}

const secrets = once(() => new SecretsManagerClient({}));
const secretCache = new Map<string, Promise<string>>();
/** A secret's value, read once per container. */
export function secret(arn: string): Promise<string> {
  let p = secretCache.get(arn);
  if (!p) {
    p = secrets()
      .send(new GetSecretValueCommand({ SecretId: arn }))
      .then((r) => {
        if (!r.SecretString) throw new Error(`secret ${arn} has no string value`);
        return r.SecretString;
      });
    p.catch(() => secretCache.delete(arn));
    secretCache.set(arn, p);
  }
  return p;
}

export const articleDeps = once(
  (): ArticleDeps => ({
    articles: articleRepository(),
    scheduler: new EventBridgePublishScheduler(new SchedulerClient({}), {
      groupName: required('SCHEDULER_GROUP_NAME'),
      targetArn: required('PUBLISH_FUNCTION_ARN'),
      roleArn: required('SCHEDULER_ROLE_ARN'),
    }),
    clock: systemClock,
    site: site(),
  }),
);

export const feedRebuildDeps = once(
  (): FeedRebuildDeps => ({
    index: articleRepository(),
    store: new S3DocumentStore(new S3Client({}), required('FEED_BUCKET')),
    site: site(),
    hub: site().websubHub ? new HttpHubNotifier(site().websubHub!) : undefined,
  }),
);

export const publisherKeys = once(async () => new StaticApiKeys([await secret(required('PUBLISHER_KEY_SECRET_ARN'))]));
