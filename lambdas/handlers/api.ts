import { handle } from 'hono/aws-lambda';
import { createApp } from '../http/app.ts';
import { articleDeps } from './aws/articles.ts';
import { publisherKeys } from './aws/env.ts';

/** The HTTP API behind API Gateway (and CloudFront): the same app the local server runs. */
const app = createApp({
  articles: articleDeps(),
  apiKeys: { verify: async (key) => (await publisherKeys()).verify(key) },
});

export const handler = handle(app);
