import { getConnInfo, handle } from 'hono/aws-lambda';
import { createApp } from '../http/app.ts';
import { subscriberHttp } from '../compose/http.ts';
import { articleDeps } from './aws/articles.ts';
import { awsEnv, dynamo, publisherKeys } from './aws/env.ts';
import { awsSubscriberDeps } from './aws/mail.ts';
import { awsDeliveryDeps } from './aws/sends.ts';
import { awsJobApiDeps } from './aws/jobs.ts';
import { sendRoutes } from '../http/routes/sends.ts';

/** The HTTP API behind API Gateway (and CloudFront): the same app the local server runs. */
const env = awsEnv();
const app = createApp({
  articles: articleDeps(),
  apiKeys: { verify: async (key) => (await publisherKeys()).verify(key) },
  mounts: [
    { path: '/api', app: sendRoutes(await awsDeliveryDeps()) },
    ...subscriberHttp(env, await awsSubscriberDeps(), {
    db: dynamo(),
    table: env.TABLE_NAME,
    templatesDir: env.TEMPLATES_DIR,
    socketAddress: (c) => getConnInfo(c).remote.address,
    // Built on first use: JOBS_BUCKET and JOBS_QUEUE_URL are read then.
    jobs: awsJobApiDeps,
    }),
  ],
});

export const handler = handle(app);
