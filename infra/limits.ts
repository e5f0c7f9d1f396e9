/**
 * Every number that shapes how Inkwire's functions run, in one place: the CDK stacks build the functions,
 * queues, event sources and schedules from it, the Lambda compositions read their reserve and budgets
 * from it, and the local runtime (`npm start`, the tests) runs the same handlers under it. Change a number
 * here and both feel it; `tests/infra/limits.test.ts` fails if the synthesized template and the local
 * runtime disagree. `GET /_dev/limits` shows what the local runtime emulates.
 *
 * Pure data and arithmetic: no CDK, no AWS SDK, so Lambda bundles can carry it.
 */

/** A function invoked by an SQS event source mapping. */
export interface QueueConsumerLimits {
  timeoutSeconds: number;
  memoryMb: number;
  /** Messages per invocation (SQS event sources allow 1 to 10 without a batching window). */
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Invocations at once (the event source's ScalingConfig.MaximumConcurrency, at least 2). */
  maximumConcurrency: number;
  /** The queue's visibility timeout: how long a received message stays hidden. */
  visibilityTimeoutSeconds: number;
  /** Receives before the queue moves a message to its dead-letter queue. */
  maxReceiveCount: number;
}

/** A function invoked by a DynamoDB stream event source mapping. */
export interface StreamConsumerLimits {
  timeoutSeconds: number;
  memoryMb: number;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /** Retries of a failed batch before its records go to the on-failure destination. */
  retryAttempts: number;
  maxRecordAgeSeconds: number;
  parallelizationFactor: number;
  bisectBatchOnError: boolean;
}

/** A function invoked asynchronously (EventBridge Scheduler, S3 notifications). */
export interface AsyncLimits {
  timeoutSeconds: number;
  memoryMb: number;
  /** Lambda's retries of a failed asynchronous invocation (0 to 2) before the on-failure destination. */
  retryAttempts: number;
  maxEventAgeSeconds: number;
}

/** Lambda's guidance for SQS event sources: visibility at least six times the timeout plus the batching window. */
export const visibilityFor = (timeoutSeconds: number, batchingWindowSeconds = 0): number => timeoutSeconds * 6 + batchingWindowSeconds + 30;

/** SQS's default visibility timeout, for queues nobody polls with a long-running function. */
const SQS_DEFAULT_VISIBILITY = 30;

/**
 * How the account's SES rate is shared. Every worker reserves its sending instants from one pacing item in
 * the table (a few at a time), so the workers together never exceed the account's rate, whatever their
 * number, and a worker alone gets all of it. `maximumConcurrency` workers can run at once: enough that
 * their provider calls in flight can reach the rate.
 */
export interface SesRateShare {
  /** The account's MaxSendRate, messages per second. */
  accountRate: number;
  /**
   * Rate the senders pace to: instants `1000 / pacedRate` ms apart, so that even when a message reaches SES
   * up to `jitterMs` earlier or later than its instant, no window of one second holds more than the
   * account's rate.
   */
  pacedRate: number;
  /** How far a message's arrival at SES may stray from its paced instant (a claim write and an HTTPS call). */
  jitterMs: number;
  /** Send workers that can run at once. */
  workers: number;
  /** Sending instants a worker reserves at once: about this many milliseconds of the account's rate. */
  reservationMs: number;
  /** Mail the API sends (confirmations, welcome mail, test sends) reserves from the same pacing item. */
  apiCountsAgainstRate: true;
}

export interface DeploymentLimits {
  api: { timeoutSeconds: number; memoryMb: number };
  feedRebuild: StreamConsumerLimits;
  sendPlanner: StreamConsumerLimits & {
    /** One invocation pages the audience for at most this long, then hands on to the next stream record. */
    planBudgetSeconds: number;
  };
  sendWorker: QueueConsumerLimits & {
    /** A worker stops starting provider calls with this much time left, and hands the rest of its batch on. */
    reserveSeconds: number;
    /** Provider calls in flight at once per worker. */
    inFlight: number;
    /** Messages of one invocation worked on side by side. */
    messagesAtOnce: number;
    /** Recipients per queue message: about `messageSeconds` of one worker's share of the rate, 1 to 50. */
    recipientsPerMessage: number;
    messageSeconds: number;
    /** One SES call gives up after this long (well inside the reserve). */
    sesRequestTimeoutSeconds: number;
    /**
     * A message throttled through a whole invocation without one email accepted is handed on with an SQS
     * delay of `stallDelaySeconds` x 2^n (n: hand-ons without progress so far, at most SQS's 900 s), up to
     * `maxStalls` times; only then is it redelivered, spending a receive. Pacing never gives a message up.
     */
    stallDelaySeconds: number;
    maxStalls: number;
  };
  sendDeadLetter: QueueConsumerLimits;
  /** SES's events (SNS to SQS): deliveries, bounces, complaints, rejects, delays, and mailto unsubscribes. */
  sesEvents: QueueConsumerLimits;
  subscriberJobs: QueueConsumerLimits;
  subscriberImport: AsyncLimits;
  digest: AsyncLimits;
  publishScheduled: AsyncLimits;
  ses: SesRateShare;
}

/** Every function that a queue or stream drives, by the name the template and `/_dev/limits` use. */
export type DrivenFunction = 'feedRebuild' | 'sendPlanner' | 'sendWorker' | 'sendDeadLetter' | 'sesEvents' | 'subscriberJobs';

/** How far arrivals may stray from their instants: a DynamoDB write and an HTTPS call, at their slow end. */
const ARRIVAL_JITTER_MS = 25;

/**
 * The rate to pace to so that no one-second window at SES holds more than `accountRate` messages when each
 * arrives up to `jitterMs` off its instant: `floor(rate)` instants must span at least 1000 + 2 x jitter ms.
 */
export function pacedRateFor(accountRate: number, jitterMs = ARRIVAL_JITTER_MS): number {
  const whole = accountRate >= 1 ? Math.floor(accountRate) : accountRate;
  return (whole * 1000) / (1000 + 2 * jitterMs);
}

/** Send workers that can run at once for an account rate: two (SQS's minimum), one more per 50/s, at most 20. */
export function sendWorkersFor(accountRate: number): number {
  return Math.min(20, Math.max(2, Math.ceil(accountRate / 50)));
}

/** Consumers of SES's events that can run at once for an account rate: one per 25 events a second, 2 to 50. */
export function sesEventConsumersFor(accountRate: number): number {
  return Math.min(50, Math.max(2, Math.ceil(accountRate / 25)));
}

/** Recipients per message: about `seconds` of one worker's share of the rate, between 1 and 50. */
export function recipientsPerMessage(accountRate: number, workers: number, seconds: number): number {
  return Math.max(1, Math.min(50, Math.floor((accountRate / workers) * seconds)));
}

const HOUR = 3600;

/**
 * The limits of a deployment whose SES account sends `sesMaxSendRate` messages per second (the
 * `sesMaxSendRate` setting in AWS, `SES_MAX_SEND_RATE` or the local endpoint's quota locally).
 */
export function deploymentLimits(sesMaxSendRate: number): DeploymentLimits {
  if (!(sesMaxSendRate > 0) || !Number.isFinite(sesMaxSendRate)) throw new Error(`the SES rate must be a positive number, got ${sesMaxSendRate}`);
  const workers = sendWorkersFor(sesMaxSendRate);
  const sendWorkerTimeout = 180;
  const messageSeconds = 20;
  const subscriberJobsTimeout = 900;
  const deadLetterTimeout = 20;
  const sesEventsTimeout = 30;
  return {
    api: { timeoutSeconds: 15, memoryMb: 512 },
    feedRebuild: {
      timeoutSeconds: 120,
      memoryMb: 1024,
      batchSize: 100,
      // Collects the several writes of one publish into one rebuild.
      maxBatchingWindowSeconds: 2,
      retryAttempts: 5,
      maxRecordAgeSeconds: 6 * HOUR,
      parallelizationFactor: 1,
      bisectBatchOnError: true,
    },
    sendPlanner: {
      timeoutSeconds: 120,
      memoryMb: 512,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      retryAttempts: 5,
      maxRecordAgeSeconds: 6 * HOUR,
      // Records of one send in order.
      parallelizationFactor: 1,
      bisectBatchOnError: true,
      // Half the timeout: the last page (a query and a queue write) always fits in what is left.
      planBudgetSeconds: 60,
    },
    sendWorker: {
      timeoutSeconds: sendWorkerTimeout,
      memoryMb: 512,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maximumConcurrency: workers,
      visibilityTimeoutSeconds: visibilityFor(sendWorkerTimeout),
      maxReceiveCount: 5,
      // Covers a provider call started just before it (sesRequestTimeoutSeconds), the outcome writes and the hand-on.
      reserveSeconds: 30,
      inFlight: 8,
      messagesAtOnce: 2,
      messageSeconds,
      recipientsPerMessage: recipientsPerMessage(sesMaxSendRate, workers, messageSeconds),
      sesRequestTimeoutSeconds: 10,
      stallDelaySeconds: 30,
      maxStalls: 5,
    },
    sendDeadLetter: {
      timeoutSeconds: deadLetterTimeout,
      memoryMb: 256,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maximumConcurrency: 2,
      // The dead-letter queue keeps SQS's default; the handler fits well inside it.
      visibilityTimeoutSeconds: SQS_DEFAULT_VISIBILITY,
      // A dead letter the handler cannot settle stays in its queue (retention 14 days) and is tried again.
      maxReceiveCount: Number.POSITIVE_INFINITY,
    },
    sesEvents: {
      timeoutSeconds: sesEventsTimeout,
      memoryMb: 256,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      // About one event per email arrives (a delivery; a few bounces and complaints more); one instance
      // handles some 25 a second (a read and a transaction each).
      maximumConcurrency: sesEventConsumersFor(sesMaxSendRate),
      visibilityTimeoutSeconds: visibilityFor(sesEventsTimeout),
      maxReceiveCount: 5,
    },
    subscriberJobs: {
      timeoutSeconds: subscriberJobsTimeout,
      memoryMb: 1024,
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      maximumConcurrency: 2,
      visibilityTimeoutSeconds: visibilityFor(subscriberJobsTimeout),
      maxReceiveCount: 3,
    },
    subscriberImport: { timeoutSeconds: subscriberJobsTimeout, memoryMb: 1024, retryAttempts: 2, maxEventAgeSeconds: 6 * HOUR },
    digest: { timeoutSeconds: 300, memoryMb: 512, retryAttempts: 2, maxEventAgeSeconds: 6 * HOUR },
    publishScheduled: { timeoutSeconds: 30, memoryMb: 512, retryAttempts: 2, maxEventAgeSeconds: HOUR },
    ses: {
      accountRate: sesMaxSendRate,
      pacedRate: pacedRateFor(sesMaxSendRate),
      jitterMs: ARRIVAL_JITTER_MS,
      workers,
      reservationMs: 500,
      apiCountsAgainstRate: true,
    },
  };
}

/**
 * The limits as `GET /_dev/limits` shows them and the infrastructure tests compare them: per queue- or
 * stream-driven function, named as in the template.
 */
export function describeLimits(l: DeploymentLimits) {
  const queue = (q: QueueConsumerLimits) => ({
    timeoutSeconds: q.timeoutSeconds,
    memoryMb: q.memoryMb,
    batchSize: q.batchSize,
    maxBatchingWindowSeconds: q.maxBatchingWindowSeconds,
    maximumConcurrency: q.maximumConcurrency,
    visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
    maxReceiveCount: Number.isFinite(q.maxReceiveCount) ? q.maxReceiveCount : null,
  });
  const stream = (s: StreamConsumerLimits) => ({ ...s });
  return {
    sendWorker: {
      ...queue(l.sendWorker),
      reserveSeconds: l.sendWorker.reserveSeconds,
      inFlight: l.sendWorker.inFlight,
      messagesAtOnce: l.sendWorker.messagesAtOnce,
      recipientsPerMessage: l.sendWorker.recipientsPerMessage,
      sesRequestTimeoutSeconds: l.sendWorker.sesRequestTimeoutSeconds,
    },
    sendDeadLetter: queue(l.sendDeadLetter),
    sesEvents: queue(l.sesEvents),
    subscriberJobs: queue(l.subscriberJobs),
    sendPlanner: { ...stream(l.sendPlanner), planBudgetSeconds: l.sendPlanner.planBudgetSeconds },
    feedRebuild: stream(l.feedRebuild),
    api: l.api,
    subscriberImport: l.subscriberImport,
    digest: l.digest,
    publishScheduled: l.publishScheduled,
    ses: l.ses,
  };
}
