import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SESClient } from '@aws-sdk/client-ses';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { createArticle } from '../../lambdas/core/articles/use-cases.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { MailerRejectedError, type Mailer } from '../../lambdas/core/email/message.ts';
import { createSend, getSend, resumeSend } from '../../lambdas/core/sends/use-cases.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';

const mailerFor = (ses: SesEndpoint) =>
  new SesMailer({ client: new SESClient({ endpoint: ses.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }) });

describe('send errors: pause with a reason, resume without duplicates', () => {
  let dir: string;
  let accepting: SesEndpoint;
  let refusing: SesEndpoint;
  let pipeline: Pipeline;
  let table: Awaited<ReturnType<typeof freshTable>>;
  let articleId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-errors-'));
    table = await freshTable('errors');
    // Two endpoints, one outbox: the second one knows no `newsletter` configuration set, as a misconfigured account.
    accepting = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
    refusing = await startSesEndpoint({ outboxDir: join(dir, 'outbox'), configurationSets: ['transactional'] });
    pipeline = await startDeliveryPipeline({
      dynamoEndpoint: table.endpoint,
      tableName: table.tableName,
      sesUrl: accepting.url,
      dataDir: join(dir, 'data'),
      settings: { errorMinAttempts: 50, errorThreshold: 0.05 },
    });
    const a = await createArticle(
      {
        articles: new DynamoArticleRepository(table.doc, table.tableName),
        scheduler: { schedule: async () => undefined, cancel: async () => undefined },
        clock: systemClock,
        site: TEST_SITE,
      },
      {
        title: 'Election results',
        body: 'Counting is over.',
        bodyFormat: 'markdown',
        authors: [],
        tags: [],
        status: 'published',
        publishAt: new Date(Date.now() - 30 * 3_600_000).toISOString(),
      },
    );
    articleId = a.body.id;
    await seedSubscribers(table.doc, table.tableName, [
      ...Array.from({ length: 100 }, (_, i) => ({ id: `w${String(i).padStart(3, '0')}`, frequency: 'weekly' as const })),
      ...Array.from({ length: 200 }, (_, i) => ({
        id: `d${String(i).padStart(3, '0')}`,
        frequency: 'daily' as const,
        email: i % 10 === 0 ? `refused-${i}@example.org` : `d${i}@example.org`,
      })),
    ]);
  });

  afterAll(async () => {
    await pipeline?.stop();
    await accepting?.stop();
    await refusing?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('pauses at once when the provider refuses every message, and resumes after the fix', async () => {
    pipeline.deps.mailer = mailerFor(refusing);
    const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'weekly' });
    const paused = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'paused');
    expect(paused.reason).toMatch(/^the provider refuses every message: ConfigurationSetDoesNotExist: .*Fix the account or configuration, then resume\.$/);
    await pipeline.idle();
    const view = await getSend(pipeline.deps, created.body.id);
    expect(view.counts.submitted).toBe(0);
    expect(view.errors[0]).toMatchObject({ code: 'ConfigurationSetDoesNotExist' });

    pipeline.deps.mailer = mailerFor(accepting);
    await resumeSend(pipeline.deps, created.body.id);
    const done = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed');
    expect(done.counts).toEqual({ planned: 100, submitted: 100, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
    const outbox = await outboxByRecipient(accepting.outboxDir);
    for (let i = 0; i < 100; i++) expect(outbox.get(`w${String(i).padStart(3, '0')}@example.org`)).toBe(1);
  }, 60_000);

  it('pauses past the error threshold, says why, and tries the failures again on resume (a mailer stand-in refuses some addresses, which the local endpoint cannot)', async () => {
    let refuse = true;
    const real = mailerFor(accepting);
    const picky: Mailer = {
      getSendQuota: () => real.getSendQuota(),
      send: async (email) => {
        if (refuse && email.to.address.startsWith('refused-')) throw new MailerRejectedError('MessageRejected', 'Email address is not verified.');
        return real.send(email);
      },
    };
    pipeline.deps.mailer = picky;
    const created = await createSend(pipeline.deps, { kind: 'article', articleId, frequency: 'daily' });
    const paused = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'paused');
    expect(paused.reason).toMatch(
      /^\d+ of \d+ attempts failed \(\d+(\.\d)?%\), above the 5% threshold; most frequent error: MessageRejected \(\d+x\): .*Email address is not verified\..*resume/,
    );
    await pipeline.idle();
    const before = await getSend(pipeline.deps, created.body.id);
    expect(before.counts.failed).toBeGreaterThan(0);

    refuse = false;
    await resumeSend(pipeline.deps, created.body.id);
    const done = await waitForSend(pipeline.deps.sends, created.body.id, (s) => s.status === 'completed');
    expect(done.counts).toEqual({ planned: 200, submitted: 200, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 });
    const outbox = await outboxByRecipient(accepting.outboxDir);
    for (let i = 0; i < 200; i++) expect(outbox.get(i % 10 === 0 ? `refused-${i}@example.org` : `d${i}@example.org`), String(i)).toBe(1);
  }, 60_000);
});
