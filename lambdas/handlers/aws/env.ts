import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type * as z from 'zod';
import { StaticApiKeys } from '../../core/auth.ts';
import type { SiteConfig } from '../../core/site.ts';
import { DynamoArticleRepository } from '../../adapters/dynamodb/article-repository.ts';
import { parseEnv, siteConfigFrom } from '../../config.ts';
import { AwsEnvSchema } from '../../compose/aws-env.ts';
import { traced } from './observability.ts';

/**
 * The AWS composition root, in small modules so each function bundles only the clients it uses. Each Lambda builds what it needs once per container (lazily, on the first
 * event), from environment validated here; a missing variable fails fast naming it.
 */
export type AwsEnv = z.infer<typeof AwsEnvSchema>;

let envCache: AwsEnv | undefined;
export const awsEnv = (): AwsEnv => (envCache ??= parseEnv(AwsEnvSchema, process.env));

export const once = <T>(make: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= make());
};

export const dynamo = once(() => DynamoDBDocumentClient.from(traced(new DynamoDBClient({})), { marshallOptions: { removeUndefinedValues: true } }));
export const site = once((): SiteConfig => siteConfigFrom(awsEnv(), awsEnv().PUBLIC_URL!));
export const articleRepository = once(() => new DynamoArticleRepository(dynamo(), awsEnv().TABLE_NAME));

export function required<K extends keyof AwsEnv>(key: K): NonNullable<AwsEnv[K]> {
  const v = awsEnv()[key];
  if (v === undefined) throw new Error(`environment variable ${String(key)} is required by this function`);
  return v as NonNullable<AwsEnv[K]>;
}

const secrets = once(() => traced(new SecretsManagerClient({})));
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

export const publisherKeys = once(async () => new StaticApiKeys([await secret(required('PUBLISHER_KEY_SECRET_ARN'))]));
