import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { SESClient } from '@aws-sdk/client-ses';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { MailerRejectedError, MailerThrottledError, type OutgoingEmail } from '../../lambdas/core/email/message.ts';
import { meteredMailer, METRICS } from '../../lambdas/compose/observability.ts';
import { PowertoolsObservability } from '../../lambdas/adapters/observability/powertools.ts';
import { emfWritten } from '../support/emf.ts';

/**
 * The metrics decorator around the production SesMailer, against the local SES endpoint (which answers
 * Throttling and refuses an unknown configuration set as SES does), with Powertools Metrics writing the
 * CloudWatch Embedded Metric Format to stdout as in Lambda. The EMF is read back from the captured output.
 */

const email = (to: string, configurationSet = 'newsletter'): OutgoingEmail => ({
  from: { name: 'Inkwire Test', address: 'newsletter@example.com' },
  to: { address: to },
  subject: 'Metered',
  html: '<p>Hello</p>',
  text: 'Hello',
  tags: { send_id: 'send-metrics' },
  configurationSet,
  messageStreamKind: 'transactional',
});

const context = {
  awsRequestId: 'req-metrics',
  functionName: 'worker',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:worker',
  memoryLimitInMB: '512',
} as Context;

let dir: string;
let ses: SesEndpoint;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'inkwire-metered-'));
  // Only the `newsletter` configuration set exists: any other is refused (ConfigurationSetDoesNotExist).
  ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox'), configurationSets: ['newsletter'] });
});
afterAll(async () => {
  await ses?.stop();
  await rm(dir, { recursive: true, force: true });
});

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.POWERTOOLS_DEV;
  delete process.env.POWERTOOLS_DEV; // dev mode would turn Powertools Metrics off
  ses.setFaults({ throttleShare: 0 });
});
afterEach(() => {
  if (saved === undefined) delete process.env.POWERTOOLS_DEV;
  else process.env.POWERTOOLS_DEV = saved;
});

/** The production mailer against the local endpoint: one SDK attempt, as the worker builds it. */
const sesMailer = () => new SesMailer({ client: new SESClient({ endpoint: ses.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }) });

describe('the metered mailer (EmailsSubmitted, EmailsThrottled, EmailsFailed)', () => {
  it('counts accepted, throttled and refused calls, and writes them as one EMF document when the invocation ends', async () => {
    const obs = new PowertoolsObservability({ functionName: 'sendWorker' });
    const mailer = meteredMailer(sesMailer(), obs.metrics);
    const before = ses.stats();
    const outcomes: string[] = [];
    const attempt = async (e: OutgoingEmail) => {
      try {
        await mailer.send(e);
        outcomes.push('sent');
      } catch (err) {
        outcomes.push(err instanceof MailerThrottledError ? 'throttled' : err instanceof MailerRejectedError ? `rejected ${err.code}` : `other ${String(err)}`);
      }
    };
    const handler = obs.instrument('sendWorker', async () => {
      for (const to of ['a@example.com', 'b@example.com', 'c@example.com']) await attempt(email(to));
      ses.setFaults({ throttleShare: 1 });
      for (const to of ['d@example.com', 'e@example.com']) await attempt(email(to));
      ses.setFaults({ throttleShare: 0 });
      await attempt(email('f@example.com', 'no-such-set'));
    });

    const emf = await emfWritten(() => handler({}, context));

    // What the endpoint saw is what was counted.
    expect(outcomes).toEqual(['sent', 'sent', 'sent', 'throttled', 'throttled', 'rejected ConfigurationSetDoesNotExist']);
    const after = ses.stats();
    expect([after.accepted - before.accepted, after.throttled - before.throttled, after.rejected - before.rejected]).toEqual([3, 2, 1]);

    expect(emf).toHaveLength(1);
    const [doc] = emf;
    expect(doc!._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Inkwire',
        Dimensions: [['service']],
        Metrics: expect.arrayContaining([
          { Name: METRICS.emailsSubmitted, Unit: 'Count' },
          { Name: METRICS.emailsThrottled, Unit: 'Count' },
          { Name: METRICS.emailsFailed, Unit: 'Count' },
        ]),
      },
    ]);
    expect(doc).toMatchObject({ service: 'inkwire', EmailsSubmitted: 3, EmailsThrottled: 2, EmailsFailed: 1 });
  });

  it('passes the mailer\u2019s outcome and error through unchanged', async () => {
    const obs = new PowertoolsObservability();
    const mailer = meteredMailer(sesMailer(), obs.metrics);
    await emfWritten(async () => {
      const sent = await mailer.send(email('g@example.com'));
      expect(sent.messageId).toMatch(/\S+/);
      await expect(mailer.send(email('h@example.com', 'missing'))).rejects.toMatchObject({
        name: 'MailerRejectedError',
        code: 'ConfigurationSetDoesNotExist',
        affectsAllMessages: true,
      });
      expect(await mailer.getSendQuota()).toMatchObject({ maxSendRate: 14 });
    });
  });

  it('writes each count at once outside an invocation (the HTTP API, whose entry point is not wrapped), and a dimensioned count as its own metric', async () => {
    const obs = new PowertoolsObservability();
    const mailer = meteredMailer(sesMailer(), obs.metrics);
    const emf = await emfWritten(async () => {
      await mailer.send(email('i@example.com'));
      obs.metrics.count(METRICS.subscribes, 1, { outcome: 'created' });
    });
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({ service: 'inkwire', EmailsSubmitted: 1 });
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Namespace).toBe('Inkwire');
    expect(emf[1]).toMatchObject({ service: 'inkwire', outcome: 'created', Subscribes: 1 });
    expect(emf[1]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service', 'outcome']]);
  });

  it('writes nothing for an invocation that sent nothing, not even Powertools\u2019 empty-metrics warning', async () => {
    const obs = new PowertoolsObservability();
    const written: string[] = [];
    const saved = [process.stdout.write, process.stderr.write] as const;
    for (const stream of [process.stdout, process.stderr]) {
      stream.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof stream.write;
    }
    try {
      await obs.instrument('sendWorker', async () => undefined)({}, context);
    } finally {
      [process.stdout.write, process.stderr.write] = saved;
    }
    expect(written).toEqual([]);
  });
});
