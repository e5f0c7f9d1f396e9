/**
 * Writes every page of the public site at once, in AWS: for a deployment that already had articles when
 * its pages were turned on (or whose templates changed), since a publish rewrites only the pages its
 * change touches. It runs from the operator's machine, with the deployed feed rebuilder's own settings
 * (read from the function's configuration), against its table and bucket, through the same code.
 *
 *   npm run build-site -- --function <Inkwire-Service.FeedRebuildFunctionName> [--region eu-west-1]
 *
 * Your AWS credentials need lambda:GetFunctionConfiguration on the function, dynamodb:Query/GetItem/
 * BatchGetItem on the table and s3:GetObject/PutObject on the feed bucket. Safe to run again: a page whose
 * bytes did not change is not rewritten. The pages are rendered from this checkout's templates/: run it
 * from the checkout you deployed.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoArticleRepository } from '../adapters/dynamodb/article-repository.ts';
import { S3DocumentStore } from '../adapters/s3/s3-document-store.ts';
import { AwsEnvSchema } from '../compose/aws-env.ts';
import { parseEnv, siteConfigFrom } from '../config.ts';
import { rebuildWholeSite, type SiteReport } from '../core/site/rebuild.ts';

/** The site's pages from the deployed function's environment: the same settings the function runs with. */
export async function buildSiteWith(functionEnv: Record<string, string | undefined>, clients: { ddb: DynamoDBClient; s3: S3Client }): Promise<SiteReport> {
  // The templates of this checkout: the ones the deployment ships (deploy from the same checkout).
  const env = parseEnv(AwsEnvSchema, { ...functionEnv, TEMPLATES_DIR: fileURLToPath(new URL('../../templates', import.meta.url)) });
  const bucket = env.FEED_BUCKET;
  if (!bucket) throw new Error('the function has no FEED_BUCKET: pass the feed rebuilder (FeedRebuildFunctionName), not another function');
  return rebuildWholeSite({
    index: new DynamoArticleRepository(DynamoDBDocumentClient.from(clients.ddb, { marshallOptions: { removeUndefinedValues: true } }), env.TABLE_NAME),
    store: new S3DocumentStore(clients.s3, bucket),
    site: siteConfigFrom(env, env.PUBLIC_URL!),
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { function: { type: 'string' }, region: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values.function) {
    process.stderr.write('usage: npm run build-site -- --function <FeedRebuildFunctionName> [--region <region>]\n');
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const region = values.region;
  const config = await new LambdaClient({ region }).send(new GetFunctionConfigurationCommand({ FunctionName: values.function }));
  const report = await buildSiteWith(config.Environment?.Variables ?? {}, { ddb: new DynamoDBClient({ region }), s3: new S3Client({ region }) });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
