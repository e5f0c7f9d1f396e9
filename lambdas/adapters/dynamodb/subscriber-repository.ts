import {
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import {
  AlreadySeen,
  EmailTaken,
  StaleSubscriber,
  type AddressState,
  type SeenClaim,
  type SubscriberCounts,
  type SubscriberPage,
  type SubscriberRepository,
  type Suppression,
} from '../../core/subscribers/ports.ts';
import { FREQUENCIES, inAudience, SUBSCRIBER_STATUSES, type Subscriber, type SubscriberStatus } from '../../core/subscribers/schema.ts';
import { growthMarkOf } from '../../core/subscribers/growth.ts';
import { growthMarkItem } from './growth-marks.ts';
import { keys, parseEmailClaimKey, parseSuppressionKey, type Key } from './keys.ts';
import { ANY_KEY_VALUE, decodeCursor, encodeCursor, failedConditions, invalidCursor, isConditionalCheckFailed } from './errors.ts';
import { batchGetAll, batchWriteAll } from './batch.ts';
import { Update } from './update.ts';

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];
type Item = Record<string, unknown>;

/**
 * The attributes this repository owns on a subscriber item. Updates SET or REMOVE exactly these, so an
 * attribute another module wrote on the same item (the delivery engine's `lastDigestAt`, which now lives in
 * its own digest dates item and is only read here from older items) is never overwritten with a stale copy.
 */
const OWNED_FIELDS = [
  'email',
  'emailHash',
  'name',
  'status',
  'frequency',
  'topics',
  'paused',
  'createdAt',
  'confirmedAt',
  'updatedAt',
  'unsubscribedAt',
  'softBounces',
  'suppressedReason',
  'source',
  'importId',
  'version',
] as const satisfies readonly (keyof Subscriber)[];
const READ_FIELDS = [...OWNED_FIELDS, 'id', 'lastDigestAt'] as const;

function indexKeys(s: Subscriber): { GSI1PK: string; GSI1SK: string; GSI2PK?: string; GSI2SK?: string } {
  return { ...keys.subscriberStatusGsi1(s.status, s.createdAt, s.id), ...(inAudience(s) ? keys.audienceGsi2(s.frequency, s.id) : {}) };
}

function toItem(s: Subscriber): Item {
  const item: Item = { ...keys.subscriber(s.id), entity: 'subscriber', id: s.id };
  for (const f of OWNED_FIELDS) if (s[f] !== undefined) item[f] = s[f];
  if (s.lastDigestAt !== undefined) item.lastDigestAt = s.lastDigestAt;
  return { ...item, ...indexKeys(s) };
}

function fromItem(item: Item): Subscriber {
  const s: Item = {};
  for (const f of READ_FIELDS) if (item[f] !== undefined) s[f] = item[f];
  s.topics ??= [];
  s.paused ??= false;
  s.softBounces ??= 0;
  s.source ??= 'form';
  return s as unknown as Subscriber;
}

const claimItem = (s: Subscriber): Item => ({ ...keys.emailClaim(s.emailHash), entity: 'emailClaim', subscriberId: s.id });
const suppressionItem = (x: Suppression): Item => ({
  ...keys.suppression(x.emailHash),
  entity: 'suppression',
  emailHash: x.emailHash,
  reason: x.reason,
  at: x.at,
});
/** The Put of the growth mark a write makes, if it changes the confirmed list (in the write's own transaction). */
const growthMarkPut = (table: string, prev: Subscriber | undefined, next: Subscriber | undefined, at?: string): TransactItem[] => {
  const mark = growthMarkOf(prev, next, at);
  return mark ? [{ Put: { TableName: table, Item: growthMarkItem(mark) } }] : [];
};
const seenItem = (x: SeenClaim): Item => ({ ...keys.seen(x.source, x.id), entity: 'seen', expiresAt: x.expiresAt });

/** Subscribers, address claims and suppressions in the single table. */
export class DynamoSubscriberRepository implements SubscriberRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(id: string): Promise<Subscriber | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.subscriber(id), ConsistentRead: true }));
    return Item ? fromItem(Item) : undefined;
  }

  async findByEmailHash(emailHash: string): Promise<Subscriber | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.emailClaim(emailHash), ConsistentRead: true }));
    return Item ? this.get(Item.subscriberId as string) : undefined;
  }

  async getSuppression(emailHash: string): Promise<Suppression | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.suppression(emailHash), ConsistentRead: true }));
    return Item ? { emailHash, reason: Item.reason as Suppression['reason'], at: Item.at as string } : undefined;
  }

  async isSuppressed(emailHash: string): Promise<boolean> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.suppression(emailHash), ConsistentRead: true, ProjectionExpression: 'PK' }),
    );
    return Item !== undefined;
  }

  async create(subscriber: Subscriber): Promise<void> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: toItem(subscriber), ConditionExpression: 'attribute_not_exists(PK)' } },
            { Put: { TableName: this.table, Item: claimItem(subscriber), ConditionExpression: 'attribute_not_exists(PK)' } },
            ...growthMarkPut(this.table, undefined, subscriber),
          ],
        }),
      );
    } catch (e) {
      if (failedConditions(e)?.includes(1)) throw new EmailTaken(subscriber.emailHash);
      throw e;
    }
  }

  private updateParams(next: Subscriber, prev: Subscriber) {
    const u = new Update();
    for (const f of OWNED_FIELDS) u.set(f, next[f]);
    // A subscriber leaves an index by losing its key attributes (GSI2 only holds the sending audience).
    const idx = indexKeys(next);
    u.set('GSI1PK', idx.GSI1PK).set('GSI1SK', idx.GSI1SK).set('GSI2PK', idx.GSI2PK).set('GSI2SK', idx.GSI2SK);
    u.when(u.equals('version', prev.version));
    return u.params(this.table, keys.subscriber(next.id));
  }

  async update(next: Subscriber, prev: Subscriber, options: { suppress?: Suppression; unsuppress?: boolean; seen?: SeenClaim } = {}): Promise<void> {
    if (next.id !== prev.id) throw new Error('update must keep the subscriber id');
    const params = this.updateParams(next, prev);
    const mark = growthMarkPut(this.table, prev, next);
    if (!options.suppress && !options.unsuppress && !options.seen && !mark.length) {
      try {
        await this.db.send(new UpdateCommand(params));
      } catch (e) {
        if (isConditionalCheckFailed(e)) throw new StaleSubscriber(prev.id);
        throw e;
      }
      return;
    }
    const items: TransactItem[] = [{ Update: params }];
    if (options.suppress) items.push({ Put: { TableName: this.table, Item: suppressionItem(options.suppress) } });
    else if (options.unsuppress) items.push({ Delete: { TableName: this.table, Key: keys.suppression(next.emailHash) } });
    const seenIndex = options.seen ? items.length : -1;
    if (options.seen) items.push({ Put: { TableName: this.table, Item: seenItem(options.seen), ConditionExpression: 'attribute_not_exists(PK)' } });
    items.push(...mark);
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      const failed = failedConditions(e);
      if (failed?.includes(seenIndex)) throw new AlreadySeen(options.seen!.id);
      if (failed?.includes(0)) throw new StaleSubscriber(prev.id);
      throw e;
    }
  }

  async erase(prev: Subscriber, suppression: Suppression): Promise<void> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: keys.subscriber(prev.id),
                ConditionExpression: '#v = :v',
                ExpressionAttributeNames: { '#v': 'version' },
                ExpressionAttributeValues: { ':v': prev.version },
              },
            },
            { Delete: { TableName: this.table, Key: keys.emailClaim(prev.emailHash) } },
            { Delete: { TableName: this.table, Key: keys.subscriberDigests(prev.id) } },
            { Put: { TableName: this.table, Item: suppressionItem(suppression) } },
            ...growthMarkPut(this.table, prev, undefined, suppression.at),
          ],
        }),
      );
    } catch (e) {
      if (failedConditions(e)?.includes(0)) throw new StaleSubscriber(prev.id);
      throw e;
    }
  }

  async suppressAddress(suppression: Suppression, seen?: SeenClaim): Promise<void> {
    if (!seen) {
      await this.db.send(new PutCommand({ TableName: this.table, Item: suppressionItem(suppression) }));
      return;
    }
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: suppressionItem(suppression) } },
            { Put: { TableName: this.table, Item: seenItem(seen), ConditionExpression: 'attribute_not_exists(PK)' } },
          ],
        }),
      );
    } catch (e) {
      if (failedConditions(e)?.includes(1)) throw new AlreadySeen(seen.id);
      throw e;
    }
  }

  async markSeen(seen: SeenClaim): Promise<boolean> {
    try {
      await this.db.send(new PutCommand({ TableName: this.table, Item: seenItem(seen), ConditionExpression: 'attribute_not_exists(PK)' }));
      return true;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return false;
      throw e;
    }
  }

  // ---- Listing. Every list reads GSI1 (`SUBS#<status>`), newest first; no Scan.

  /** Cursor: `<status index>` (start of that status) or `<status index>.<LastEvaluatedKey>`. */
  private parseCursor(cursor: string | undefined, statuses: readonly SubscriberStatus[]): { index: number; start?: Record<string, unknown> | undefined } {
    if (!cursor) return { index: 0 };
    const m = /^(\d)(?:\.(.+))?$/.exec(cursor);
    const index = m ? Number(m[1]) : -1;
    const status = statuses[index];
    if (!m || !status) throw invalidCursor('it does not start with a status position (a digit)');
    if (m[2] === undefined) return { index };
    const start = decodeCursor(m[2], { PK: ANY_KEY_VALUE, SK: ANY_KEY_VALUE, GSI1PK: keys.subscriberStatusPartition(status), GSI1SK: ANY_KEY_VALUE });
    return { index, start };
  }

  async list(query: { status?: SubscriberStatus | undefined; limit: number; cursor?: string | undefined }): Promise<SubscriberPage> {
    const statuses = query.status ? [query.status] : SUBSCRIBER_STATUSES;
    let { index, start } = this.parseCursor(query.cursor, statuses);
    const items: Subscriber[] = [];
    while (index < statuses.length) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.subscriberStatusPartition(statuses[index]!) },
          ScanIndexForward: false,
          Limit: query.limit - items.length,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []).map(fromItem));
      start = out.LastEvaluatedKey;
      if (items.length >= query.limit) {
        if (start) return { items, next: `${index}.${encodeCursor(start)}` };
        // This status is exhausted; the next page starts at the beginning of the next one.
        return { items, next: index + 1 < statuses.length ? String(index + 1) : null };
      }
      if (!start) index++;
    }
    return { items, next: null };
  }

  /** Every page of one status's partition of the status index (GSI1), with the query's own options. */
  private async *statusPages(status: SubscriberStatus, options: Partial<QueryCommandInput> = {}): AsyncIterable<QueryCommandOutput> {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.subscriberStatusPartition(status) },
          ...options,
          ExclusiveStartKey: start,
        }),
      );
      yield out;
      start = out.LastEvaluatedKey;
    } while (start);
  }

  async *all(): AsyncIterable<Subscriber> {
    for (const status of SUBSCRIBER_STATUSES) {
      for await (const out of this.statusPages(status, { ScanIndexForward: false, Limit: 500 })) for (const it of out.Items ?? []) yield fromItem(it);
    }
  }

  /**
   * Exact counts by reading GSI1: one query per status, in parallel. Reads cost about 1 RRU per 8 KB of
   * index data (eventually consistent), ~5,000 RRU for 100,000 subscribers: cheaper and simpler than a
   * counter item that every subscribe, import batch and bounce would have to update (a hot key, and drift
   * whenever a write path forgets it).
   */
  async counts(): Promise<SubscriberCounts> {
    const byStatus = Object.fromEntries(SUBSCRIBER_STATUSES.map((s) => [s, 0])) as SubscriberCounts['byStatus'];
    const byFrequency = Object.fromEntries(FREQUENCIES.map((f) => [f, 0])) as SubscriberCounts['byFrequency'];
    let paused = 0;
    await Promise.all(
      SUBSCRIBER_STATUSES.map(async (status) => {
        const detailed = status === 'confirmed';
        const projection = detailed ? { ProjectionExpression: '#f, paused', ExpressionAttributeNames: { '#f': 'frequency' } } : { Select: 'COUNT' as const };
        for await (const out of this.statusPages(status, projection)) {
          byStatus[status] += out.Count ?? 0;
          if (detailed) {
            for (const it of out.Items ?? []) {
              const f = it.frequency as keyof typeof byFrequency;
              if (f in byFrequency) byFrequency[f]++;
              if (it.paused === true) paused++;
            }
          }
        }
      }),
    );
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    return { total, byStatus, byFrequency, paused };
  }

  // ---- Bulk paths for imports.

  private batchGet(keyList: Key[]): Promise<Item[]> {
    return batchGetAll(this.db, this.table, keyList, { consistentRead: true });
  }

  async lookup(emailHashes: string[]): Promise<Map<string, AddressState>> {
    const unique = [...new Set(emailHashes)];
    const result = new Map<string, AddressState>(unique.map((h) => [h, {}]));
    if (unique.length === 0) return result;
    const first = await this.batchGet(unique.flatMap((h) => [keys.emailClaim(h), keys.suppression(h)]));
    const claims = new Map<string, string>();
    for (const it of first) {
      const key = { PK: it.PK as string, SK: it.SK as string };
      const claimed = parseEmailClaimKey(key);
      const suppressed = parseSuppressionKey(key);
      if (claimed !== undefined) claims.set(it.subscriberId as string, claimed);
      else if (suppressed !== undefined)
        result.get(suppressed)!.suppression = { emailHash: suppressed, reason: it.reason as Suppression['reason'], at: it.at as string };
    }
    if (claims.size > 0) {
      for (const it of await this.batchGet([...claims.keys()].map((id) => keys.subscriber(id)))) {
        const s = fromItem(it);
        const hash = claims.get(s.id);
        if (hash) result.get(hash)!.subscriber = s;
      }
    }
    return result;
  }

  async createMany(subscribers: Subscriber[]): Promise<void> {
    const writes = subscribers.flatMap((s) => {
      const mark = growthMarkOf(undefined, s);
      return [{ PutRequest: { Item: toItem(s) } }, { PutRequest: { Item: claimItem(s) } }, ...(mark ? [{ PutRequest: { Item: growthMarkItem(mark) } }] : [])];
    });
    // A few requests in flight at once keep a large import quick without a burst that throttles itself.
    await batchWriteAll(this.db, this.table, writes, { concurrency: 4, maxDelayMs: 2000 });
  }
}
