/**
 * What the runtimes need to say about themselves: one logging callback, a few metrics, and the keys that
 * tie a log line to the work it is about (a send, a queue message). Both composition roots implement it:
 * the AWS one with Powertools for AWS Lambda (JSON lines, CloudWatch EMF metrics:
 * `adapters/observability/powertools.ts`), the local runtime with readable single lines and no metrics
 * (`adapters/observability/console.ts`). Core never sees it: core takes the `log` callback it always took.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { MailerThrottledError, type Mailer, type OutgoingEmail } from '../core/email/message.ts';
import type { SubscribeOutcome } from '../core/subscribers/use-cases.ts';

/** The logging callback every dependency bag takes (`deps.log`): a message and, optionally, what it is about. */
export type LogFn = (message: string, detail?: unknown) => void;

/** The CloudWatch namespace of Inkwire's own metrics (the dashboard and alarms read them from here too). */
export const METRICS_NAMESPACE = 'Inkwire';
/** The `service` of every AWS log line, and the one dimension every metric carries. */
export const SERVICE_NAME = 'inkwire';

/** The custom metrics, namespace {@link METRICS_NAMESPACE}, dimension `service` = {@link SERVICE_NAME}. */
export const METRICS = {
  /** SES accepted the message (a `Mailer.send` that resolved). */
  emailsSubmitted: 'EmailsSubmitted',
  /** SES refused the call for its rate or daily quota (`MailerThrottledError`); the message is tried again. */
  emailsThrottled: 'EmailsThrottled',
  /** Any other failed `Mailer.send`: rejected, invalid, transient (network, 5xx). */
  emailsFailed: 'EmailsFailed',
  /** Milliseconds one stream batch's feed rebuild took (all the feeds it touched). */
  feedRebuildTime: 'FeedRebuildTime',
  /** Feeds rebuilt (each touched feed once per batch). */
  feedsRebuilt: 'FeedsRebuilt',
  /** Stream batches whose rebuild failed (reported back to the stream, so retried). */
  feedRebuildFailed: 'FeedRebuildFailed',
  /** What `POST /subscribe` did, by dimension `outcome`: created, confirmationResent, alreadyConfirmed, blocked. */
  subscribes: 'Subscribes',
} as const;
/** The values of the `outcome` dimension of {@link METRICS.subscribes} (core's `SubscribeOutcome`). */
export const SUBSCRIBE_OUTCOMES = ['created', 'confirmationResent', 'alreadyConfirmed', 'blocked'] as const satisfies readonly SubscribeOutcome[];
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Metrics as the code emits them; the runtime decides where they go (EMF on AWS, nowhere locally). */
export interface Metrics {
  /** Adds `value` (default 1) to a count. With `dimensions`, emitted as a metric of its own at once. */
  count(name: MetricName, value?: number, dimensions?: Record<string, string>): void;
  /** Records one duration in milliseconds. */
  milliseconds(name: MetricName, ms: number): void;
}

/** Metrics that go nowhere: the local runtime and tests that do not look at them. */
export const noMetrics: Metrics = { count: () => undefined, milliseconds: () => undefined };

/** Keys naming what the current piece of work is about, e.g. `{ send_id, message_id }`. */
export type Correlation = Readonly<Record<string, string>>;

const correlationStore = new AsyncLocalStorage<Correlation>();

/**
 * Runs `fn` with `keys` added to the correlation of every line logged within it (and everything it
 * awaits), on top of any enclosing ones. Undefined values are left out. The AWS logger writes them as JSON
 * keys; the local one leaves its lines as they are (their messages already name the send).
 */
export function withCorrelation<T>(keys: Readonly<Record<string, string | undefined>>, fn: () => T): T {
  const merged: Record<string, string> = { ...correlationStore.getStore() };
  for (const [k, v] of Object.entries(keys)) if (v !== undefined && v !== '') merged[k] = v;
  return correlationStore.run(merged, fn);
}

/** The correlation keys of the work under way (empty outside any). */
export function currentCorrelation(): Correlation {
  return correlationStore.getStore() ?? {};
}

/**
 * A {@link Mailer} that counts what became of each message it sends: submitted (SES accepted it), throttled
 * (`MailerThrottledError`: rate or daily quota; the engine tries again at its next instant) or failed
 * (anything else). It only counts; the outcome, and the error, pass through unchanged. Wrap the mailer
 * that talks to SES, inside any pacing, so that each count is one call that reached SES (or failed to).
 */
export function meteredMailer(mailer: Mailer, metrics: Metrics): Mailer {
  return {
    send: async (email: OutgoingEmail) => {
      try {
        const sent = await mailer.send(email);
        metrics.count(METRICS.emailsSubmitted);
        return sent;
      } catch (e) {
        metrics.count(e instanceof MailerThrottledError ? METRICS.emailsThrottled : METRICS.emailsFailed);
        throw e;
      }
    },
    getSendQuota: () => mailer.getSendQuota(),
  };
}
