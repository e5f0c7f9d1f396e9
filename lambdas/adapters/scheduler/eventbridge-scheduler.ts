import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { PublishScheduler } from '../../core/articles/ports.ts';

/** `publishAt` rounded up to the next whole second, as Scheduler's `at()` wants it. */
export function atExpression(at: string): string {
  const ms = Math.ceil(new Date(at).getTime() / 1000) * 1000;
  return new Date(ms).toISOString().slice(0, 19);
}

/**
 * One EventBridge Scheduler one-time schedule per scheduled article (`at(...)`, deleted after it runs),
 * targeting the publish-scheduled function with `{ "articleId": ... }`.
 */
export class EventBridgePublishScheduler implements PublishScheduler {
  constructor(
    private readonly client: SchedulerClient,
    private readonly config: { groupName: string; targetArn: string; roleArn: string },
  ) {}

  private name(articleId: string) {
    return `publish-${articleId}`;
  }

  async schedule(articleId: string, at: string): Promise<void> {
    const input = {
      Name: this.name(articleId),
      GroupName: this.config.groupName,
      // Scheduler takes `at(yyyy-mm-ddThh:mm:ss)` in UTC, whole seconds: round up, never fire early.
      ScheduleExpression: `at(${atExpression(at)})`,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' as const },
      ActionAfterCompletion: 'DELETE' as const,
      Target: { Arn: this.config.targetArn, RoleArn: this.config.roleArn, Input: JSON.stringify({ articleId }) },
    };
    try {
      await this.client.send(new CreateScheduleCommand(input));
    } catch (e) {
      if (!(e instanceof ConflictException)) throw e;
      await this.client.send(new UpdateScheduleCommand(input));
    }
  }

  async cancel(articleId: string): Promise<void> {
    try {
      await this.client.send(new DeleteScheduleCommand({ Name: this.name(articleId), GroupName: this.config.groupName }));
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
  }
}
