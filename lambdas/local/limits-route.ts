import { Hono } from 'hono';
import { describeLimits, type DeploymentLimits } from '../../infra/limits.ts';

/** What an in-process queue emulates of its event source and queue. */
export interface QueueEmulation {
  timeoutMs: number;
  batchSize: number;
  concurrency: number;
  visibilityTimeoutMs: number;
  maxReceives: number;
}
/** What a stream poller emulates of its event source. */
export interface StreamEmulation {
  timeoutMs: number;
  batchSize: number;
  maxBatchingWindowMs: number;
  retryAttempts: number;
}

/**
 * The limits the local runtime emulates, named as in the template (`describeLimits`), read back from the
 * stand-ins themselves: what the queues and stream pollers actually run with, not what they were asked.
 */
export function emulatedLimits(
  limits: DeploymentLimits,
  parts: {
    sendQueue: { emulation: QueueEmulation };
    jobsQueue: { emulation: QueueEmulation };
    sesEventsQueue: { emulation: QueueEmulation };
    feedPoller: { emulation: StreamEmulation };
    sendPoller: { emulation: StreamEmulation };
  },
) {
  const described = describeLimits(limits);
  const queue = (q: QueueEmulation) => ({
    timeoutSeconds: q.timeoutMs / 1000,
    batchSize: q.batchSize,
    maximumConcurrency: q.concurrency,
    visibilityTimeoutSeconds: q.visibilityTimeoutMs / 1000,
    maxReceiveCount: Number.isFinite(q.maxReceives) ? q.maxReceives : null,
  });
  const stream = (p: StreamEmulation) => ({
    timeoutSeconds: p.timeoutMs / 1000,
    batchSize: p.batchSize,
    maxBatchingWindowSeconds: p.maxBatchingWindowMs / 1000,
    retryAttempts: p.retryAttempts,
  });
  return {
    ...described,
    sendWorker: { ...described.sendWorker, ...queue(parts.sendQueue.emulation) },
    subscriberJobs: { ...described.subscriberJobs, ...queue(parts.jobsQueue.emulation) },
    sesEvents: { ...described.sesEvents, ...queue(parts.sesEventsQueue.emulation) },
    feedRebuild: { ...described.feedRebuild, ...stream(parts.feedPoller.emulation) },
    sendPlanner: { ...described.sendPlanner, ...stream(parts.sendPoller.emulation) },
  };
}

/** `GET /_dev/limits` (local only, like `/_dev/outbox`). */
export function limitsApp(read: () => unknown): Hono {
  const app = new Hono();
  app.get('/', (c) => c.json(read()));
  return app;
}
