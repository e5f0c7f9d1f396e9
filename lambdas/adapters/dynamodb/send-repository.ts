import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { IdempotencyConflict, type IdempotencyClaim, type IdempotencyRecord } from '../../core/idempotency.ts';
import {
  COUNT_NAMES,
  DELIVERING,
  parseBatchMessage,
  type BatchMessage,
  type Delivery,
  type DeliveryState,
  type NewSend,
  REPORT_KINDS,
  SKIP_REASONS,
  isSkipReason,
  type SkipCounts,
  type SkipReason,
  type Send,
  type SendContent,
  type SendCounts,
  type SendReports,
  type SendStatus,
  zeroReports,
} from '../../core/sends/model.ts';
import {
  SendExists,
  type ArchiveEntry,
  type PlanStep,
  type ProviderReport,
  type Reconcile,
  type SendPage,
  type SendRepository,
  type SettleOptions,
  type TallyDelta,
} from '../../core/sends/ports.ts';
import { keys, parseSendPartition, REPORT_SHARDS, reportShard, type Key } from './keys.ts';
import { idempotencyPut, readIdempotency } from './idempotency.ts';
import { batchGetAll, batchWriteAll } from './batch.ts';
import { Update } from './update.ts';
import { ANY_KEY_VALUE, decodeCursor, encodeCursor, failedConditions, isConditionalCheckFailed, isTransactionConflict } from './errors.ts';

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

/** How long a recipient's report marker is kept: bounces and complaints may come weeks after a send. */
const REPORT_TTL_SECONDS = 180 * 86_400;

/** How long a batch's tally marker is kept: longer than any send lives (deadlines are hours). */
const TALLY_TTL_SECONDS = 30 * 86_400;

const SEND_FIELDS = [
  'id',
  'kind',
  'trigger',
  'status',
  'createdAt',
  'deadline',
  'updatedAt',
  'articleId',
  'frequency',
  'topics',
  'subject',
  'intro',
  'dryRun',
  'windowEnd',
  'importId',
  'reason',
  'startedAt',
  'completedAt',
  'archivePath',
  'retryUncertain',
] as const;

/**
 * Skipped recipients by reason: top-level numbers (ADD needs no map to exist first, so a send created
 * before a reason was known counts it too); `planSkip_*` is the part the current plan counted.
 */
const skipAttr = (r: SkipReason) => `skip_${r}`;
const planSkipAttr = (r: SkipReason) => `planSkip_${r}`;

/** Error codes become map keys: keep them short and plain. */
const cleanCode = (code: string) => code.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'Unknown';

/** A Send from its item (or from a stream image, once unmarshalled). */
export function sendFromItem(item: Record<string, unknown>): Send {
  const s: Record<string, unknown> = {};
  for (const f of SEND_FIELDS) if (item[f] !== undefined) s[f] = item[f];
  const num = (k: string) => (typeof item[k] === 'number' ? (item[k] as number) : 0);
  const counts = Object.fromEntries(COUNT_NAMES.map((c) => [c, num(c)])) as SendCounts;
  const skippedBy = Object.fromEntries(SKIP_REASONS.map((r) => [r, num(skipAttr(r))])) as SkipCounts;
  const errorCounts = (item.errorCounts ?? {}) as Record<string, number>;
  const samples = (item.errorSamples ?? {}) as Record<string, string>;
  const sent = item.sentArticles;
  return {
    ...(s as unknown as Send),
    counts,
    skippedBy,
    errors: Object.fromEntries(Object.entries(errorCounts).map(([code, count]) => [code, { count, message: samples[code] }])),
    generation: num('generation'),
    plan: {
      cursor: item.planCursor as string | undefined,
      done: item.planDone === true,
      pages: num('planPages'),
      batches: num('planBatches'),
      skipped: num('planSkipped'),
      skippedBy: Object.fromEntries(SKIP_REASONS.map((r) => [r, num(planSkipAttr(r))]).filter(([, v]) => v)),
      perBatch: num('perBatch'),
    },
    batchesDone: num('batchesDone'),
    errorBaseline: item.baselineAttempts !== undefined ? { attempts: num('baselineAttempts'), failed: num('baselineFailed') } : undefined,
    sentArticles: sent instanceof Set ? [...(sent as Set<string>)] : Array.isArray(sent) ? (sent as string[]) : undefined,
  };
}

function deliveryFromItem(item: Record<string, unknown>): Delivery {
  return {
    sendId: String(item.sendId),
    subscriberId: String(item.subscriberId),
    state: item.state as DeliveryState,
    claim: String(item.claim ?? ''),
    claimedAt: String(item.claimedAt ?? ''),
    generation: Number(item.generation ?? 0),
    batchId: String(item.batchId ?? ''),
    messageId: item.messageId as string | undefined,
    submittedAt: item.submittedAt as string | undefined,
    code: item.code as string | undefined,
    detail: item.detail as string | undefined,
    retriedFrom: item.retriedFrom as DeliveryState | undefined,
    reportedMessageId: item.reportedMessageId as string | undefined,
  };
}

/** The plain value of a low-level attribute (a ConditionalCheckFailed error carries the old item that way). */
export function fromAttributeValue(v: AttributeValue | undefined): unknown {
  if (!v) return undefined;
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.BOOL !== undefined) return v.BOOL;
  if (v.NULL !== undefined) return null;
  if (v.M !== undefined) return Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, fromAttributeValue(x)]));
  if (v.L !== undefined) return v.L.map(fromAttributeValue);
  if (v.SS !== undefined) return new Set(v.SS);
  if (v.NS !== undefined) return new Set(v.NS.map(Number));
  return undefined;
}
export const fromAttributeMap = (m: Record<string, AttributeValue> | undefined): Record<string, unknown> | undefined =>
  m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, fromAttributeValue(v)])) : undefined;

/**
 * The item of a new Send: created here, and by an article's first publication (its alert, in the same
 * transaction as the publish), so both write the same shape.
 */
export function sendItem(send: NewSend): Record<string, unknown> {
  return { ...keys.send(send.id), entity: 'send', ...send, ...keys.sendListGsi1(send.createdAt, send.id) };
}

/** A delivery record, indexed once (at creation) in its subscriber's history (GSI3). */
const deliveryItem = (d: Delivery): Record<string, unknown> => ({
  ...keys.delivery(d.sendId, d.subscriberId),
  entity: 'delivery',
  ...d,
  ...keys.subscriberDeliveryGsi3(d.subscriberId, d.claimedAt, d.sendId),
});

/** Sends, their delivery ledger and the digest archive index, in the single table. */
export class DynamoSendRepository implements SendRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(send: NewSend, idempotency?: IdempotencyClaim): Promise<void> {
    const item = sendItem(send);
    if (!idempotency) {
      try {
        await this.db.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(PK)' }));
      } catch (e) {
        if (isConditionalCheckFailed(e)) throw new SendExists(send.id);
        throw e;
      }
      return;
    }
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(PK)' } },
            idempotencyPut(this.table, idempotency),
          ],
        }),
      );
    } catch (e) {
      const failed = failedConditions(e);
      if (failed?.includes(1)) throw new IdempotencyConflict();
      if (failed?.includes(0)) throw new SendExists(send.id);
      throw e;
    }
  }

  async get(id: string): Promise<Send | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.send(id), ConsistentRead: true }));
    return Item ? sendFromItem(Item) : undefined;
  }

  async list(query: { limit: number; cursor?: string | undefined }): Promise<SendPage> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.sendListPartition },
        ScanIndexForward: false,
        Limit: query.limit,
        ExclusiveStartKey: decodeCursor(query.cursor, { PK: ANY_KEY_VALUE, SK: ANY_KEY_VALUE, GSI1PK: keys.sendListPartition, GSI1SK: ANY_KEY_VALUE }),
      }),
    );
    return { items: (out.Items ?? []).map(sendFromItem), next: encodeCursor(out.LastEvaluatedKey) };
  }

  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
    return readIdempotency(this.db, this.table, scope, key);
  }

  private async update(key: Key, u: Update, returnNew = false): Promise<Record<string, unknown> | undefined | false> {
    try {
      const out = await this.db.send(new UpdateCommand({ ...u.params(this.table, key), ...(returnNew ? { ReturnValues: 'ALL_NEW' as const } : {}) }));
      return out.Attributes ?? undefined;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }

  async beginPlanning(id: string, at: string, perBatch: number): Promise<boolean> {
    const u = new Update()
      .set('status', 'planning')
      .set('generation', 1)
      .set('planDone', false)
      .set('planPages', 0)
      .set('planBatches', 0)
      .set('planSkipped', 0)
      .set('perBatch', perBatch)
      .set('batchesDone', 0)
      .set('errorCounts', {})
      .set('errorSamples', {})
      .set('startedAt', at)
      .set('updatedAt', at)
      .remove('planCursor')
      .remove('reason');
    for (const c of COUNT_NAMES) u.set(c, 0);
    for (const r of SKIP_REASONS) u.set(skipAttr(r), 0).set(planSkipAttr(r), 0);
    u.when(`${u.name('status')} = ${u.value('pending')}`);
    return (await this.update(keys.send(id), u)) !== false;
  }

  async checkpointPlan(id: string, step: PlanStep, at: string): Promise<boolean> {
    const u = new Update()
      .set('updatedAt', at)
      .add('planPages', 1)
      .add('planned', step.planned)
      .add('skipped', step.skipped)
      .add('planSkipped', step.skipped)
      .add('planBatches', step.batches);
    for (const [r, n] of Object.entries(step.skippedBy ?? {})) if (n && isSkipReason(r)) u.add(skipAttr(r), n).add(planSkipAttr(r), n);
    if (step.next) u.set('planCursor', step.next);
    else u.remove('planCursor').set('planDone', true).set('status', 'sending');
    u.when(`${u.name('generation')} = ${u.value(step.generation)}`)
      .when(`${u.name('status')} = ${u.value('planning')}`)
      .when(`${u.name('planDone')} = ${u.value(false)}`)
      .when(step.from === undefined ? `attribute_not_exists(${u.name('planCursor')})` : `${u.name('planCursor')} = ${u.value(step.from)}`);
    return (await this.update(keys.send(id), u)) !== false;
  }

  async setStatus(
    id: string,
    change: { from: readonly SendStatus[]; to: SendStatus; at: string; reason?: string | undefined; generation?: number | undefined },
  ): Promise<boolean> {
    const u = new Update().set('status', change.to).set('updatedAt', change.at).set('reason', change.reason);
    if (change.to === 'completed') u.set('completedAt', change.at);
    u.when(u.inList('status', change.from));
    if (change.generation !== undefined) u.when(`${u.name('generation')} = ${u.value(change.generation)}`);
    return (await this.update(keys.send(id), u)) !== false;
  }

  async resume(id: string, from: readonly SendStatus[], at: string, options: { retryUncertain?: boolean | undefined } = {}): Promise<Send | undefined> {
    const send = await this.get(id);
    if (!send || !from.includes(send.status)) return undefined;
    const u = new Update()
      .set('updatedAt', at)
      .remove('reason')
      .set('retryUncertain', options.retryUncertain ? true : undefined);
    if (send.generation === 0) {
      // Never started (cancelled while pending): start as if new.
      u.set('status', 'pending');
    } else {
      const c = send.counts;
      u.set('status', 'planning')
        .set('generation', send.generation + 1)
        .set('planDone', false)
        .set('planPages', 0)
        .set('planBatches', 0)
        .set('planSkipped', 0)
        .set('batchesDone', 0)
        .set('planned', 0)
        // The new plan counts its own "nothing new" skips again.
        .set('skipped', c.skipped - send.plan.skipped)
        .set('baselineAttempts', c.submitted + c.failed + c.uncertain)
        .set('baselineFailed', c.failed)
        .remove('planCursor');
      // As for `skipped`: the new plan counts its own skips again.
      for (const r of SKIP_REASONS) u.set(skipAttr(r), send.skippedBy[r] - (send.plan.skippedBy[r] ?? 0)).set(planSkipAttr(r), 0);
    }
    // A send cancelled before it was ever planned has no generation attribute yet (read as 0).
    const generation = u.name('generation');
    const sameGeneration =
      send.generation === 0 ? `(attribute_not_exists(${generation}) OR ${generation} = ${u.value(0)})` : `${generation} = ${u.value(send.generation)}`;
    u.when(u.inList('status', from)).when(sameGeneration);
    const out = await this.update(keys.send(id), u, true);
    return out ? sendFromItem(out) : undefined;
  }

  async tally(
    id: string,
    generation: number,
    batchId: string,
    delta: TallyDelta,
    at: string,
    handOn?: BatchMessage,
  ): Promise<'tallied' | 'duplicate' | 'stale'> {
    const u = new Update().set('updatedAt', at).add('batchesDone', 1);
    // The hand-on is one more batch of the plan, counted in the same write, so the send cannot complete without it.
    if (handOn) u.add('planBatches', 1);
    for (const [name, n] of Object.entries(delta.counts)) if (n) u.add(name, n);
    for (const [r, n] of Object.entries(delta.skips ?? {})) if (n && isSkipReason(r)) u.add(skipAttr(r), n);
    for (const [code, e] of Object.entries(delta.errors)) {
      const c = cleanCode(code);
      u.add(`errorCounts.${c}`, e.count).set(`errorSamples.${c}`, e.message);
    }
    if (delta.sentArticles.length) u.add('sentArticles', new Set(delta.sentArticles));
    u.when(`${u.name('generation')} = ${u.value(generation)}`).when(u.inList('status', DELIVERING));
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...keys.batchTally(id, generation, batchId),
                  entity: 'sendBatch',
                  at,
                  expiresAt: Math.floor(Date.parse(at) / 1000) + TALLY_TTL_SECONDS,
                  ...(handOn ? { handOn: JSON.stringify(handOn) } : {}),
                },
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
            { Update: u.params(this.table, keys.send(id)) },
          ],
        }),
      );
      return 'tallied';
    } catch (e) {
      const failed = failedConditions(e);
      if (failed?.includes(0)) return 'duplicate';
      if (failed?.includes(1)) return 'stale';
      throw e;
    }
  }

  async batchTally(id: string, generation: number, batchId: string): Promise<{ handOn?: BatchMessage | undefined } | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.batchTally(id, generation, batchId), ConsistentRead: true }));
    if (!Item) return undefined;
    return { handOn: typeof Item.handOn === 'string' ? parseBatchMessage(Item.handOn) : undefined };
  }

  async settle(id: string, counts: SendCounts, at: string, options: SettleOptions): Promise<boolean> {
    const errorCounts: Record<string, number> = {};
    const errorSamples: Record<string, string> = {};
    for (const [code, e] of Object.entries(options.errors)) {
      const c = cleanCode(code);
      errorCounts[c] = (errorCounts[c] ?? 0) + e.count;
      errorSamples[c] = e.message;
    }
    const u = new Update().set('updatedAt', at).set('recountedFinal', options.finalRecords).set('errorCounts', errorCounts).set('errorSamples', errorSamples);
    for (const c of COUNT_NAMES) u.set(c, counts[c]);
    for (const r of SKIP_REASONS) u.set(skipAttr(r), options.skippedBy[r]);
    u.when('attribute_exists(PK)').when(
      `(attribute_not_exists(${u.name('recountedFinal')}) OR ${u.name('recountedFinal')} <= ${u.value(options.finalRecords)})`,
    );
    if (options.complete) {
      u.set('status', 'completed').set('completedAt', at);
      u.when(`${u.name('status')} = ${u.value('sending')}`)
        .when(`${u.name('generation')} = ${u.value(options.complete.generation)}`)
        .when(`${u.name('batchesDone')} >= ${u.name('planBatches')}`);
    }
    return (await this.update(keys.send(id), u)) !== false;
  }

  async setArchivePath(id: string, path: string): Promise<void> {
    await this.update(keys.send(id), new Update().set('archivePath', path).when('attribute_exists(PK)'));
  }

  async putContent(id: string, content: SendContent): Promise<SendContent> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keys.sendContent(id), entity: 'sendContent', body: JSON.stringify(content) },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return content;
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
      return (await this.getContent(id))!;
    }
  }

  async getContent(id: string): Promise<SendContent | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.sendContent(id), ConsistentRead: true }));
    return Item ? (JSON.parse(Item.body as string) as SendContent) : undefined;
  }

  async claimDeliveries(records: Delivery[]): Promise<Map<string, Delivery>> {
    const existing = new Map<string, Delivery>();
    let pending = records;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const batch = pending;
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: batch.map((d) => ({
              Put: {
                TableName: this.table,
                Item: deliveryItem(d),
                ConditionExpression: 'attribute_not_exists(PK)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
              },
            })),
          }),
        );
        return existing;
      } catch (e) {
        const reasons = (e as { name?: string; CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] }).CancellationReasons;
        if ((e as { name?: string }).name !== 'TransactionCanceledException' || !reasons || attempt >= 5) throw e;
        // The transaction is all or nothing: set aside the records that exist, claim the rest again.
        const retry: Delivery[] = [];
        for (const [i, r] of reasons.entries()) {
          const d = batch[i]!;
          if (r.Code === 'ConditionalCheckFailed') {
            const old = fromAttributeMap(r.Item);
            existing.set(d.subscriberId, old ? deliveryFromItem(old) : await this.getDelivery(d.sendId, d.subscriberId));
          } else retry.push(d);
        }
        if (retry.length === batch.length) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt)); // a conflict with another transaction
        pending = retry;
      }
    }
    return existing;
  }

  async claimDelivery(record: Delivery): Promise<Delivery | undefined> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: deliveryItem(record),
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (e) {
      if (!isConditionalCheckFailed(e)) throw e;
      const old = (e as { Item?: Record<string, AttributeValue> }).Item;
      const plain = fromAttributeMap(old);
      return plain ? deliveryFromItem(plain) : this.getDelivery(record.sendId, record.subscriberId);
    }
  }

  async deliveries(sendId: string, subscriberIds: readonly string[]): Promise<Map<string, Delivery>> {
    const items = await batchGetAll(
      this.db,
      this.table,
      subscriberIds.map((id) => keys.delivery(sendId, id)),
      { consistentRead: true },
    );
    const found = new Map<string, Delivery>();
    for (const it of items) {
      const d = deliveryFromItem(it);
      found.set(d.subscriberId, d);
    }
    return found;
  }

  private async getDelivery(sendId: string, subscriberId: string): Promise<Delivery> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.delivery(sendId, subscriberId), ConsistentRead: true }));
    if (!Item) throw new Error(`delivery ${sendId}/${subscriberId} was reported existing and is not there`);
    return deliveryFromItem(Item);
  }

  async recordDeliveries(records: Delivery[]): Promise<void> {
    await batchWriteAll(
      this.db,
      this.table,
      records.map((d) => ({ PutRequest: { Item: deliveryItem(d) } })),
    );
  }

  async updateDelivery(
    sendId: string,
    subscriberId: string,
    expect: { from: readonly DeliveryState[]; claim?: string | undefined },
    set: Partial<Omit<Delivery, 'sendId' | 'subscriberId'>>,
  ): Promise<DeliveryState | undefined> {
    const u = new Update();
    for (const [k, v] of Object.entries(set)) if (v !== undefined) u.set(k, v);
    u.when('attribute_exists(PK)').when(u.inList('state', expect.from));
    if (expect.claim !== undefined) u.when(`${u.name('claim')} = ${u.value(expect.claim)}`);
    try {
      const out = await this.db.send(new UpdateCommand({ ...u.params(this.table, keys.delivery(sendId, subscriberId)), ReturnValues: 'UPDATED_OLD' }));
      return (out.Attributes?.state as DeliveryState | undefined) ?? expect.from[0];
    } catch (e) {
      if (isConditionalCheckFailed(e)) return undefined;
      throw e;
    }
  }

  async *ledger(sendId: string): AsyncIterable<Pick<Delivery, 'subscriberId' | 'state' | 'claim' | 'code' | 'detail' | 'reportedMessageId'>[]> {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :d)',
          ExpressionAttributeValues: { ':pk': keys.send(sendId).PK, ':d': keys.deliveryPrefix },
          ExpressionAttributeNames: { '#s': 'state', '#c': 'claim', '#i': 'subscriberId', '#e': 'code', '#d': 'detail', '#r': 'reportedMessageId' },
          ProjectionExpression: '#i, #s, #c, #e, #d, #r',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      yield (out.Items ?? []).map((it) => ({
        subscriberId: String(it.subscriberId),
        state: it.state as DeliveryState,
        claim: String(it.claim ?? ''),
        code: it.code as string | undefined,
        detail: it.detail as string | undefined,
        reportedMessageId: it.reportedMessageId as string | undefined,
      }));
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async report(r: ProviderReport, reconcile?: Reconcile): Promise<'recorded' | 'duplicate' | 'moved'> {
    const items: TransactItem[] = [];
    let markerAt = -1;
    if (r.kind !== 'sent') {
      const marker = new Update().set(r.kind, r.at).set('messageId', r.messageId).set('entity', 'sendReport');
      marker.set('expiresAt', Math.floor(Date.parse(r.at) / 1000) + REPORT_TTL_SECONDS).when(`attribute_not_exists(${marker.name(r.kind)})`);
      markerAt = items.push({ Update: marker.params(this.table, keys.sendReport(r.sendId, r.subscriberId)) }) - 1;
      items.push({
        Update: new Update()
          .add(r.kind, 1)
          .set('entity', 'sendReportCount')
          .params(this.table, keys.sendReportCount(r.sendId, reportShard(r.subscriberId))),
      });
    }
    let deliveryAt = -1;
    if (reconcile) {
      const d = new Update();
      const sendCounts = new Update().add('uncertain', -1).add('submitted', 1);
      if (reconcile.from === 'uncertain') {
        d.set('state', 'submitted').set('messageId', r.messageId).set('submittedAt', r.at).remove('code').remove('detail');
        if (reconcile.code) sendCounts.add(`errorCounts.${cleanCode(reconcile.code)}`, -1);
      } else d.set('reportedMessageId', r.messageId);
      d.when(`${d.name('state')} = ${d.value(reconcile.from)}`).when(`${d.name('claim')} = ${d.value(reconcile.claim)}`);
      deliveryAt = items.push({ Update: d.params(this.table, keys.delivery(r.sendId, r.subscriberId)) }) - 1;
      if (reconcile.from === 'uncertain') items.push({ Update: sendCounts.params(this.table, keys.send(r.sendId)) });
    }
    if (items.length === 0) return 'recorded';
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: items }));
        return 'recorded';
      } catch (e) {
        const failed = failedConditions(e);
        if (failed?.includes(markerAt)) return 'duplicate';
        if (failed?.includes(deliveryAt)) return 'moved';
        // Another report on the same counter item at the same instant: try again shortly.
        if (isTransactionConflict(e) && attempt < 5) {
          await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt * (0.5 + Math.random())));
          continue;
        }
        throw e;
      }
    }
  }

  async reports(sendIds: readonly string[]): Promise<Map<string, SendReports>> {
    const out = new Map<string, SendReports>(sendIds.map((id) => [id, zeroReports()]));
    const all = sendIds.flatMap((id) => Array.from({ length: REPORT_SHARDS }, (_, k) => keys.sendReportCount(id, k)));
    const items = await batchGetAll(this.db, this.table, all, {
      projection: {
        ProjectionExpression: ['#pk', ...REPORT_KINDS.map((_, j) => `#k${j}`)].join(', '),
        ExpressionAttributeNames: { '#pk': 'PK', ...Object.fromEntries(REPORT_KINDS.map((k, j) => [`#k${j}`, k])) },
      },
    });
    for (const item of items) {
      const id = parseSendPartition(String(item.PK));
      const sums = id === undefined ? undefined : out.get(id);
      if (!sums) continue;
      for (const k of REPORT_KINDS) sums[k] += Number(item[k] ?? 0);
    }
    return out;
  }

  async putArchiveEntry(entry: ArchiveEntry): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { ...keys.digestArchiveEntry(entry.sentAt, entry.sendId), entity: 'archiveEntry', ...entry } }),
    );
  }

  async listArchive(limit: number): Promise<ArchiveEntry[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :a)',
        ExpressionAttributeValues: { ':pk': keys.digestArchivePartition, ':a': keys.digestArchiveEntryPrefix },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((it) => ({
      sendId: it.sendId as string,
      frequency: it.frequency as 'daily' | 'weekly',
      sentAt: it.sentAt as string,
      path: it.path as string,
      title: it.title as string,
      intro: it.intro as string | undefined,
      articles: (it.articles ?? []) as ArchiveEntry['articles'],
    }));
  }
}
