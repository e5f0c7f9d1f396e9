import { startScheduledDigest, type DigestEvent } from '../core/sends/use-cases.ts';
import type { SendDeps } from '../core/sends/deps.ts';
import { lambdaEntry } from './lambda-entry.ts';

/**
 * The digest schedules' target (EventBridge Scheduler with `{ "frequency": "daily" }`, optionally with
 * `"scheduledAt": "<aws.scheduler.scheduled-time>"`; locally the digest timer). Creates the slot's digest
 * Send once; the send planner takes it from there.
 */
export function createDigestHandler(deps: SendDeps | (() => Promise<SendDeps>)) {
  return async (event: DigestEvent): Promise<{ id: string; status: 'pending' | 'expired' | 'exists' }> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    if (!event || (event.frequency !== 'daily' && event.frequency !== 'weekly'))
      throw new Error('event must be { "frequency": "daily" | "weekly", "scheduledAt"?: ISO date-time }');
    return startScheduledDigest(resolved, event);
  };
}

/** Lambda entry point (AWS composition in ./aws/plan.ts). */
export const handler = lambdaEntry(
  'digest',
  createDigestHandler(async () => (await import('./aws/plan.ts')).awsDigestDeps()),
  (event) => ({
    frequency: typeof event?.frequency === 'string' ? event.frequency : undefined,
    scheduled_at: typeof event?.scheduledAt === 'string' ? event.scheduledAt : undefined,
  }),
);
