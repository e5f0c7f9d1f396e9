import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { systemClock } from '../../core/clock.ts';
import type { ArticleDeps } from '../../core/articles/use-cases.ts';
import { EventBridgePublishScheduler } from '../../adapters/scheduler/eventbridge-scheduler.ts';
import { articleRepository, once, required, site } from './env.ts';
import { traced } from './observability.ts';

/** What the article use cases need in AWS: the table and EventBridge Scheduler for scheduled publishing. */
export const articleDeps = once(
  (): ArticleDeps => ({
    articles: articleRepository(),
    scheduler: new EventBridgePublishScheduler(traced(new SchedulerClient({})), {
      groupName: required('SCHEDULER_GROUP_NAME'),
      targetArn: required('PUBLISH_FUNCTION_ARN'),
      roleArn: required('SCHEDULER_ROLE_ARN'),
    }),
    clock: systemClock,
    site: site(),
  }),
);
