import { S3Client } from '@aws-sdk/client-s3';
import type { FeedRebuildDeps } from '../../core/feeds/rebuild.ts';
import { S3DocumentStore } from '../../adapters/s3/s3-document-store.ts';
import { HttpHubNotifier } from '../../adapters/websub.ts';
import { articleRepository, once, required, site } from './env.ts';

/** What a feed rebuild needs in AWS: the table (read) and the bucket CloudFront serves. */
export const feedRebuildDeps = once(
  (): FeedRebuildDeps => ({
    index: articleRepository(),
    store: new S3DocumentStore(new S3Client({}), required('FEED_BUCKET')),
    site: site(),
    hub: site().websubHub ? new HttpHubNotifier(site().websubHub!) : undefined,
  }),
);
