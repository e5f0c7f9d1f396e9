/**
 * The sending assembly, one for both runtimes and the test harness: from the deployment limits
 * (infra/limits.ts), the environment and the adapters a runtime builds, the dependencies of each role of
 * the send engine (planning, delivery, dead letters, the publisher's API). Nothing here reads the
 * environment; the AWS handlers (`handlers/aws/`), the local runtime and `tests/support/delivery-harness.ts`
 * call it.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeploymentLimits } from '../../infra/limits.ts';
import { systemTime, type TimeSource } from '../core/clock.ts';
import type { SiteConfig } from '../core/site.ts';
import type { Mailer, OutgoingEmail } from '../core/email/message.ts';
import type { EmailRenderer } from '../core/email/templates.ts';
import type { DocumentStore } from '../core/feeds/rebuild.ts';
import type { DeliveryDeps, MailSettings, SendDeps } from '../core/sends/deps.ts';
import type { DeadLetterDeps } from '../core/sends/dead-letter.ts';
import type { RateLimiter } from '../core/sends/pacing.ts';
import type { RecipientLinks, SendQueue } from '../core/sends/ports.ts';
import { deliverySettingsFrom, pacingFor, type EngineLimits, type SendEnv } from '../core/sends/settings.ts';
import { DynamoSendRepository } from '../adapters/dynamodb/send-repository.ts';
import { DynamoAudience } from '../adapters/dynamodb/audience.ts';
import { DynamoArticleRepository } from '../adapters/dynamodb/article-repository.ts';
import { DynamoRateLedger } from '../adapters/dynamodb/rate-ledger.ts';

/** What the engine takes from the deployment limits. */
export function engineLimits(limits: DeploymentLimits): EngineLimits {
  return {
    perBatch: limits.sendWorker.recipientsPerMessage,
    reserveMs: limits.sendWorker.reserveSeconds * 1000,
    planBudgetMs: limits.sendPlanner.planBudgetSeconds * 1000,
    stallDelaySeconds: limits.sendWorker.stallDelaySeconds,
    maxStalls: limits.sendWorker.maxStalls,
  };
}

export interface SendingBase {
  db: DynamoDBDocumentClient;
  table: string;
  limits: DeploymentLimits;
  env: SendEnv;
  site: SiteConfig;
  /** The runtime's time: the system's, or a scaled one in tests. */
  time?: TimeSource | undefined;
  log?: ((msg: string, detail?: unknown) => void) | undefined;
}

/** Planning, the digest schedule and the API's bookkeeping: no mailer, no renderer. */
export function planningDeps(
  o: SendingBase & { queue: SendQueue; store?: DocumentStore | undefined; quota?: Pick<Mailer, 'getSendQuota'> | undefined },
): SendDeps {
  const articles = new DynamoArticleRepository(o.db, o.table);
  return {
    sends: new DynamoSendRepository(o.db, o.table),
    audience: new DynamoAudience(o.db, o.table),
    queue: o.queue,
    articles,
    feed: articles,
    clock: o.time ?? systemTime,
    site: o.site,
    settings: deliverySettingsFrom(o.env, engineLimits(o.limits)),
    store: o.store,
    quota: o.quota,
    log: o.log,
  };
}

/** The send dead-letter queue's consumer: the table only. */
export function deadLetterDeps(o: Pick<SendingBase, 'db' | 'table' | 'time' | 'log'>): DeadLetterDeps {
  return { sends: new DynamoSendRepository(o.db, o.table), clock: o.time ?? systemTime, log: o.log };
}

/** A limiter on the account's shared sending instants, as every sender (workers, the API) uses. */
export function accountLimiter(
  o: Pick<SendingBase, 'db' | 'table' | 'limits' | 'time'>,
  inFlight = 1,
): Pick<DeliveryDeps, 'limiter' | 'providerSlots' | 'sleep'> {
  const time = o.time ?? systemTime;
  return pacingFor({
    ledger: new DynamoRateLedger(o.db, o.table),
    pacedRate: o.limits.ses.pacedRate,
    reservationMs: o.limits.ses.reservationMs,
    inFlight,
    now: () => time.nowMs(),
    sleep: (ms) => time.sleep(ms),
  });
}

export interface MailingParts {
  mailer: Mailer;
  renderer: EmailRenderer;
  links: RecipientLinks;
  confirmLinks: (subscriberId: string) => string;
  mail: MailSettings;
}

/**
 * Delivery (the send worker) and the API's preview and test sends. Build one per worker instance (a Lambda
 * execution environment, or one concurrent call of the local queue): its limiter and provider slots are
 * that instance's; its instants come from the account's shared ledger.
 */
export function deliveryDeps(o: SendingBase & { planning: SendDeps; mailing: MailingParts; random?: () => number }): DeliveryDeps {
  return {
    ...o.planning,
    ...o.mailing,
    ...accountLimiter(o, o.limits.sendWorker.inFlight),
    random: o.random,
  };
}

/** A mailer whose every message takes an instant of the account's rate first (the API's confirmation and welcome mail). */
export function pacedMailer(mailer: Mailer, limiter: RateLimiter): Mailer {
  return {
    send: async (email: OutgoingEmail) => {
      await limiter.acquire();
      return mailer.send(email);
    },
    getSendQuota: () => mailer.getSendQuota(),
  };
}
