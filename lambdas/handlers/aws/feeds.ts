import { S3Client } from '@aws-sdk/client-s3';
import type { FeedRebuildHandlerDeps } from '../feed-rebuild.ts';
import { S3DocumentStore } from '../../adapters/s3/s3-document-store.ts';
import { HttpHubNotifier } from '../../adapters/websub.ts';
import { articleRepository, once, required, site } from './env.ts';
import { awsLog, awsMetrics, traced } from './observability.ts';

/** What a feed rebuild needs in AWS: the table (read) and the bucket CloudFront serves; its rebuild times go to the metrics. */
export const feedRebuildDeps = once((): FeedRebuildHandlerDeps => {
  const store = new S3DocumentStore(traced(new S3Client({})), required('FEED_BUCKET'));
  return {
    index: articleRepository(),
    store,
    // The site's pages live beside the feeds (the 404 page and robots.txt even when the pages are off).
    pages: store,
    site: site(),
    hub: site().websubHub ? new HttpHubNotifier(site().websubHub!, fetch, awsLog) : undefined,
    metrics: awsMetrics(),
    log: awsLog,
  };
});
