import { Aws, Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnSchedule, CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AsyncLimits } from '../limits.ts';

export interface SchedulingProps {
  /** ARN of the publish-scheduled function (a string: that function's environment refers to this construct). */
  publishFunctionArn: string;
  digestFunction: IFunction;
  /**
   * `digest` of the deployment's limits: Scheduler tries to hand a digest run to Lambda as often and as
   * long as Lambda then retries a failed run (`retryAttempts`, `maxEventAgeSeconds`).
   */
  digestLimits: AsyncLimits;
  /** Where a digest invocation goes after Scheduler's retries are spent. */
  deadLetterQueue: IQueue;
  dailyCron: string;
  weeklyCron: string;
  timezone: string;
}

/**
 * The digest payloads, one per recurring schedule. Scheduler fills in the slot's own time, so a run that
 * is retried or delayed past the send's deadline is recorded `expired` instead of going out stale, and a
 * slot delivered twice still creates one send (its id derives from the slot).
 */
export const DIGEST_PAYLOADS = {
  daily: { frequency: 'daily', scheduledAt: '<aws.scheduler.scheduled-time>' },
  weekly: { frequency: 'weekly', scheduledAt: '<aws.scheduler.scheduled-time>' },
} as const;

/**
 * How often the publish sweep runs. A sweep Scheduler could not deliver is not retried: the next one is
 * due a period later, so a sweep's event lives one period at most.
 */
export const PUBLISH_SWEEP_PERIOD = Duration.minutes(1);

/**
 * EventBridge Scheduler resources. The API creates one-time `at(...)` schedules for scheduled articles
 * in the publishing group, with the publish role as their execution role; the recurring digest
 * schedules live in a group of their own, which the API has no permission to touch.
 */
export class Scheduling extends Construct {
  readonly publishGroupName: string;
  /** Assumed by Scheduler to invoke the publish-scheduled function; the API passes it when it creates a schedule. */
  readonly publishRole: Role;
  /** The recurring sweep that publishes every due article. */
  readonly publishSweep: CfnSchedule;
  readonly digestGroupName: string;
  readonly dailyDigest: CfnSchedule;
  readonly weeklyDigest: CfnSchedule;

  constructor(scope: Construct, id: string, props: SchedulingProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;

    this.publishGroupName = `${stackName}-publishing`;
    const publishGroup = new CfnScheduleGroup(this, 'PublishingGroup', { name: this.publishGroupName });
    this.digestGroupName = `${stackName}-digests`;
    const digestGroup = new CfnScheduleGroup(this, 'DigestGroup', { name: this.digestGroupName });

    this.publishRole = schedulerRole(this, 'PublishRole', publishGroup, 'invokes the publish-scheduled function for scheduled articles');
    this.publishRole.addToPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.publishFunctionArn] }));

    // Every minute, publish whatever is due: the safety net for a one-time schedule that failed to be
    // created after the article was saved, or that fired before the article's time.
    this.publishSweep = new CfnSchedule(this, 'PublishSweep', {
      groupName: this.publishGroupName,
      description: 'Inkwire: publish scheduled articles that are due',
      scheduleExpression: rateExpression(PUBLISH_SWEEP_PERIOD),
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: props.publishFunctionArn,
        roleArn: this.publishRole.roleArn,
        input: '{}',
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: PUBLISH_SWEEP_PERIOD.toSeconds() },
      },
    });
    this.publishSweep.addResourceDependency(publishGroup);

    const digestRole = schedulerRole(this, 'DigestRole', digestGroup, 'invokes the digest function on the daily and weekly schedules');
    digestRole.addToPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.digestFunction.functionArn] }));
    digestRole.addToPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [props.deadLetterQueue.queueArn] }));

    const digest = (id: string, frequency: keyof typeof DIGEST_PAYLOADS, expression: string) => {
      const schedule = new CfnSchedule(this, id, {
        groupName: this.digestGroupName,
        description: `Inkwire ${frequency} digest`,
        scheduleExpression: expression,
        scheduleExpressionTimezone: props.timezone,
        flexibleTimeWindow: { mode: 'OFF' },
        state: 'ENABLED',
        target: {
          arn: props.digestFunction.functionArn,
          roleArn: digestRole.roleArn,
          input: JSON.stringify(DIGEST_PAYLOADS[frequency]),
          retryPolicy: { maximumRetryAttempts: props.digestLimits.retryAttempts, maximumEventAgeInSeconds: props.digestLimits.maxEventAgeSeconds },
          deadLetterConfig: { arn: props.deadLetterQueue.queueArn },
        },
      });
      schedule.addResourceDependency(digestGroup);
      return schedule;
    };
    this.dailyDigest = digest('DailyDigest', 'daily', props.dailyCron);
    this.weeklyDigest = digest('WeeklyDigest', 'weekly', props.weeklyCron);
  }

  /** ARN pattern of the schedules the API may create, update and delete: those in the publishing group. */
  publishScheduleArns(): string {
    return Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.publishGroupName}/*` });
  }
}

/** A Scheduler rate expression in whole minutes: `rate(1 minute)`, `rate(5 minutes)`. */
function rateExpression(period: Duration): string {
  const minutes = period.toMinutes();
  return `rate(${minutes} minute${minutes === 1 ? '' : 's'})`;
}

/** A role only EventBridge Scheduler can assume, and only for schedules of this account in `group`. */
function schedulerRole(scope: Construct, id: string, group: CfnScheduleGroup, purpose: string): Role {
  return new Role(scope, id, {
    description: `EventBridge Scheduler ${purpose}`,
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com').withConditions({
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnEquals: { 'aws:SourceArn': group.attrArn },
    }),
  });
}
