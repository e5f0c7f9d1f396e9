import type { Context } from 'aws-lambda';
import { getConnInfo, handle } from 'hono/aws-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { currentAndPreviousValues } from '../adapters/secrets/secret-versions.ts';
import { createApp } from '../http/app.ts';
import { subscriberHttp } from '../compose/http.ts';
import { articleDeps } from './aws/articles.ts';
import { awsEnv, dynamo, publisherKeys, required, secret, site } from './aws/env.ts';
import { awsSubscriberDeps } from './aws/mail.ts';
import { awsDeliveryDeps } from './aws/sends.ts';
import { awsJobApiDeps } from './aws/jobs.ts';
import { sendRoutes } from '../http/routes/sends.ts';
import { awsLog } from './aws/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/** The HTTP API behind API Gateway (and CloudFront): the same app the local server runs. */
const env = awsEnv();
// CloudFront sends the origin secret with every request; anything without it (the execute-api endpoint
// called directly) gets a 403. The stacks always set ORIGIN_SECRET_ARN.
const originSecretArn = env.ORIGIN_SECRET_ARN;
const secretsClient = originSecretArn ? new SecretsManagerClient({}) : undefined;
const articles = articleDeps();
const apiKeys = { verify: async (key: string) => (await publisherKeys()).verify(key) };
const deliveryDeps = await awsDeliveryDeps();
const subscriberDeps = await awsSubscriberDeps();
const httpOptions = {
  db: dynamo(),
  table: env.TABLE_NAME,
  templatesDir: env.TEMPLATES_DIR,
  socketAddress: (c: Parameters<typeof getConnInfo>[0]) => getConnInfo(c).remote.address,
  // Built on first use: JOBS_BUCKET and JOBS_QUEUE_URL are read then.
  jobs: awsJobApiDeps,
};
// The console's own API calls stay in this process, so they carry no origin secret: they go to this app,
// the same routes without the origin check, which nothing outside the process can reach.
const inProcess = createApp({
  articles,
  log: awsLog,
  apiKeys,
  mounts: [{ path: '/api', app: sendRoutes(deliveryDeps) }, ...subscriberHttp(env, subscriberDeps, httpOptions)],
});
const app = createApp({
  origin: originSecretArn ? { load: () => currentAndPreviousValues(secretsClient!, originSecretArn), publicUrl: env.PUBLIC_URL } : undefined,
  articles,
  // The app's own lines (request failures) as Powertools JSON, with the invocation's request id.
  log: awsLog,
  apiKeys,
  mounts: [
    { path: '/api', app: sendRoutes(deliveryDeps) },
    ...subscriberHttp(env, subscriberDeps, {
      ...httpOptions,
      console: {
        keys: async () => [await secret(required('PUBLISHER_KEY_SECRET_ARN'))],
        api: (req) => inProcess.fetch(req),
        site: site(),
        quota: () => deliveryDeps.quota?.getSendQuota() ?? Promise.reject(new Error('no quota reader')),
        region: process.env.AWS_REGION,
        dkimTokens: env.DKIM_RECORDS?.split(',')
          .map((v) => v.trim().replace(/\.dkim\.amazonses\.com$/i, ''))
          .filter(Boolean),
      },
    }),
  ],
});

const serve = handle(app) as unknown as (event: { requestContext?: { requestId?: string } }, context: Context) => Promise<unknown>;
/** Lambda entry point: each log line of an invocation carries the API Gateway request id. */
export const handler = lambdaEntry('api', serve, (event) => ({ request_id: event.requestContext?.requestId }));
