import { beforeAll, describe, expect, it } from 'vitest';
import { freshTable, sendLedger, sendPartition } from '../support/dynamo.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { settleGivenUpBatch, type DeadLetterDeps } from '../../lambdas/core/sends/dead-letter.ts';
import { settleIfDone } from '../../lambdas/core/sends/settlement.ts';
import { RESUMABLE, type BatchMessage, type Delivery } from '../../lambdas/core/sends/model.ts';
import type { SendRepository } from '../../lambdas/core/sends/ports.ts';
import type { SendDeps } from '../../lambdas/core/sends/deps.ts';

/**
 * Settling a given-up batch, step by step, against the real repository on DynamoDB Local. Each send is
 * set up as the planner and the worker leave it (planned, its batch attempted and never counted); no
 * planner runs, so every state in between can be looked at.
 */
describe('settling a given-up batch (the send repository on DynamoDB Local)', () => {
  let table: Awaited<ReturnType<typeof freshTable>>;
  let repo: DynamoSendRepository;
  const now = new Date();
  const at = now.toISOString();
  const clock = { now: () => now };
  let deps: DeadLetterDeps;
  let n = 0;

  beforeAll(async () => {
    table = await freshTable('deadletter-ledger');
    repo = new DynamoSendRepository(table.doc, table.tableName);
    deps = { sends: repo, clock };
  });

  /** A send in `sending` whose plan queued `batches` batches of generation 1, with `planned` recipients. */
  async function sendingSend(planned: number, batches = 1, deadline = new Date(now.getTime() + 3_600_000).toISOString()): Promise<string> {
    const id = `dl-${++n}`;
    await repo.create({ id, kind: 'article', trigger: 'api', status: 'pending', createdAt: at, deadline, articleId: 'a1', frequency: 'all' });
    expect(await repo.beginPlanning(id, at, 50)).toBe(true);
    expect(await repo.checkpointPlan(id, { generation: 1, from: undefined, next: undefined, planned, skipped: 0, batches }, at)).toBe(true);
    return id;
  }

  /** A delivery record as the worker writes it. */
  const record = (sendId: string, subscriberId: string, state: Delivery['state'], extra: Partial<Delivery> = {}): Delivery => ({
    sendId,
    subscriberId,
    state,
    claim: `claim-${subscriberId}`,
    claimedAt: at,
    generation: 1,
    batchId: '0.0',
    ...extra,
  });

  const message = (sendId: string, ids: string[], generation = 1, batchId = '0.0'): BatchMessage => ({
    v: 1,
    sendId,
    generation,
    batchId,
    recipients: ids.map((id) => [id, `hash-${id}`]),
  });

  const partition = (sendId: string) => sendPartition(table.doc, table.tableName, sendId);
  const ledger = (sendId: string) => sendLedger(table.doc, table.tableName, sendId);

  it('reports the never-claimed and the given-back recipients failed and the one in flight uncertain, keeps the outcome already recorded, and counts the batch once', async () => {
    const id = await sendingSend(4);
    // What the batch's five receives left: `p` claimed and given back, `s` in flight when its process died, `ok` submitted; `never` not reached.
    expect((await repo.claimDeliveries([record(id, 'p', 'pending'), record(id, 's', 'sending'), record(id, 'ok', 'sending')])).size).toBe(0);
    await repo.recordDeliveries([record(id, 'ok', 'submitted', { messageId: 'ses-1', submittedAt: at })]);

    expect(await settleGivenUpBatch(deps, message(id, ['never', 'p', 's', 'ok']), 5)).toBe('counted');

    const records = await ledger(id);
    expect(records.get('never')).toMatchObject({ state: 'failed', code: 'GivenUp', generation: 1, batchId: '0.0' });
    expect(records.get('never')!.detail).toBe('its batch was given up after 5 attempts before this recipient was sent; a resume tries it again');
    expect(records.get('p')).toMatchObject({ state: 'failed', code: 'GivenUp', generation: 1, batchId: '0.0' });
    expect(records.get('s')).toMatchObject({ state: 'uncertain', code: 'InFlightAtGiveUp' });
    expect(records.get('s')!.detail).toMatch(
      /^the provider call was in flight \(claimed .*\) when its batch was given up after 5 attempts; it may or may not have been sent, so it is never sent again$/,
    );
    expect(records.get('ok')).toMatchObject({ state: 'submitted', messageId: 'ses-1', claim: 'claim-ok' });

    const send = (await repo.get(id))!;
    expect(send.status).toBe('sending');
    expect(send.batchesDone).toBe(1);
    expect(send.counts).toEqual({ planned: 4, submitted: 1, failed: 2, suppressed: 0, skipped: 0, uncertain: 1 });
    expect(send.errors.GivenUp).toMatchObject({ count: 2 });
    expect(send.errors.InFlightAtGiveUp).toMatchObject({ count: 1 });

    // What the planner does when the last batch is counted: the send completes, its counts recounted from the ledger.
    await settleIfDone(deps as SendDeps, send);
    const done = (await repo.get(id))!;
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({ planned: 4, submitted: 1, failed: 2, suppressed: 0, skipped: 0, uncertain: 1 });
  });

  it('changes and counts nothing when the same dead letter comes again (SQS delivers at least once)', async () => {
    const id = await sendingSend(3, 2);
    await repo.claimDeliveries([record(id, 's', 'sending')]);
    const msg = message(id, ['never', 's', 'p']);
    expect(await settleGivenUpBatch(deps, msg, 5)).toBe('counted');
    const after = await partition(id);
    // Still sending (another batch is not counted yet), so the second time goes all the way to the tally marker.
    expect(await settleGivenUpBatch(deps, msg, 5)).toBe('duplicate');
    expect(await partition(id)).toEqual(after);
    expect((await repo.get(id))!).toMatchObject({ batchesDone: 1, counts: { failed: 2, uncertain: 1 } });
  });

  it('drops a dead letter of an older generation: a resume has planned everyone again', async () => {
    const id = await sendingSend(2);
    await repo.claimDeliveries([record(id, 's', 'sending')]);
    expect(await repo.resume(id, RESUMABLE, at)).toMatchObject({ generation: 2, status: 'planning' });
    const before = await partition(id);
    expect(await settleGivenUpBatch(deps, message(id, ['never', 's'], 1), 5)).toBe('dropped');
    expect(await partition(id)).toEqual(before);
  });

  it('drops a dead letter of a send that no longer delivers (cancelled), or that is gone', async () => {
    const id = await sendingSend(2);
    expect(await repo.setStatus(id, { from: ['sending'], to: 'cancelled', at, reason: 'cancelled by the publisher' })).toBe(true);
    const before = await partition(id);
    expect(await settleGivenUpBatch(deps, message(id, ['never', 's']), 5)).toBe('dropped');
    expect(await partition(id)).toEqual(before);
    expect(await settleGivenUpBatch(deps, message('no-such-send', ['x']), 5)).toBe('dropped');
    expect(await partition('no-such-send')).toEqual([]);
  });

  it('expires a send whose deadline has passed instead of settling its batch, as the worker does', async () => {
    const id = await sendingSend(2, 1, new Date(now.getTime() - 1000).toISOString());
    expect(await settleGivenUpBatch(deps, message(id, ['never', 's']), 5)).toBe('expired');
    expect((await repo.get(id))!).toMatchObject({ status: 'expired' });
    expect((await ledger(id)).size).toBe(0);
  });

  it('keeps a retried failure counted once: a given-back retry of an earlier generation\u2019s failure becomes failed again', async () => {
    const id = await sendingSend(1);
    await repo.claimDeliveries([record(id, 'f', 'sending')]);
    await repo.recordDeliveries([record(id, 'f', 'failed', { code: 'MessageRejected', detail: 'Email address is not verified.' })]);
    await repo.tally(
      id,
      1,
      '0.0',
      { counts: { failed: 1 }, errors: { MessageRejected: { count: 1, message: 'Email address is not verified.' } }, sentArticles: [] },
      at,
    );
    await repo.setStatus(id, { from: ['sending'], to: 'paused', at, reason: 'too many failures' });
    const resumed = (await repo.resume(id, RESUMABLE, at))!;
    // Generation 2 planned again and its worker claimed the failure again, then gave the claim back (throttled).
    await repo.checkpointPlan(id, { generation: 2, from: undefined, next: undefined, planned: 1, skipped: 0, batches: 1 }, at);
    expect(
      await repo.updateDelivery(
        id,
        'f',
        { from: ['failed'], claim: 'claim-f' },
        { state: 'pending', claim: 'claim-f2', generation: 2, batchId: '0.0', retriedFrom: 'failed' },
      ),
    ).toBe('failed');
    expect(resumed.counts.failed).toBe(1);

    expect(await settleGivenUpBatch(deps, message(id, ['f'], 2), 5)).toBe('counted');
    expect((await ledger(id)).get('f')).toMatchObject({ state: 'failed', code: 'GivenUp', generation: 2, retriedFrom: 'failed' });
    expect((await repo.get(id))!).toMatchObject({ batchesDone: 1, counts: { failed: 1, uncertain: 0 } });
  });

  it('recounts from the ledger when the send stops while the batch is being settled (a pause arriving mid-way)', async () => {
    const id = await sendingSend(2);
    await repo.claimDeliveries([record(id, 's', 'sending')]);
    // The publisher's pause lands between the record writes and the tally.
    const pausing: SendRepository = Object.assign(Object.create(repo) as DynamoSendRepository, {
      tally: async (...args: Parameters<SendRepository['tally']>) => {
        await repo.setStatus(id, { from: ['sending'], to: 'paused', at, reason: 'paused mid-way' });
        return repo.tally(...args);
      },
    });
    expect(await settleGivenUpBatch({ ...deps, sends: pausing }, message(id, ['never', 's']), 5)).toBe('recounted');
    expect((await repo.get(id))!).toMatchObject({ status: 'paused', batchesDone: 0, counts: { planned: 2, failed: 1, uncertain: 1 } });
  });
});
