import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Frequency } from '../../core/subscribers/schema.ts';
import type { Recipient } from '../../core/sends/model.ts';
import type { AudiencePage, AudienceSource, DigestMark } from '../../core/sends/ports.ts';
import { keys } from './keys.ts';
import { ANY_KEY_VALUE, decodeCursor, encodeCursor } from './errors.ts';
import { batchGetAll, batchWriteAll } from './batch.ts';

const RECIPIENT_FIELDS = ['id', 'email', 'emailHash', 'name', 'status', 'frequency', 'topics', 'paused', 'confirmedAt', 'lastDigestAt', 'importId'] as const;
const projection = {
  ProjectionExpression: RECIPIENT_FIELDS.map((f) => `#${f}`).join(', '),
  ExpressionAttributeNames: Object.fromEntries(RECIPIENT_FIELDS.map((f) => [`#${f}`, f])),
};

function toRecipient(item: Record<string, unknown>): Recipient {
  return {
    id: String(item.id),
    email: String(item.email ?? ''),
    emailHash: String(item.emailHash ?? ''),
    name: typeof item.name === 'string' ? item.name : undefined,
    status: item.status as Recipient['status'],
    frequency: item.frequency as Frequency,
    topics: Array.isArray(item.topics) ? (item.topics as string[]) : item.topics instanceof Set ? [...(item.topics as Set<string>)] : [],
    paused: item.paused === true,
    confirmedAt: item.confirmedAt as string | undefined,
    lastDigestAt: item.lastDigestAt as Recipient['lastDigestAt'],
    importId: typeof item.importId === 'string' ? item.importId : undefined,
  };
}

type Keyed = { PK: string; SK: string };
type DigestDates = NonNullable<Recipient['lastDigestAt']>;

/** A digest dates item expires this long after the last digest (a later digest looks back 31 days at most anyway). */
export const DIGEST_DATES_TTL_DAYS = 400;

const dates = (d: DigestDates | undefined): DigestDates => ({ ...(d?.daily ? { daily: d.daily } : {}), ...(d?.weekly ? { weekly: d.weekly } : {}) });
const later = (a: string | undefined, b: string | undefined) => (a && b ? (a > b ? a : b) : (a ?? b));

/** The digest dates item's, and any the subscriber item still carries from before that item existed: the later of each. */
function mergeDates(own: DigestDates | undefined, item: Record<string, unknown> | undefined): DigestDates | undefined {
  const daily = later(own?.daily, item?.daily as string | undefined);
  const weekly = later(own?.weekly, item?.weekly as string | undefined);
  return daily || weekly ? { ...(daily ? { daily } : {}), ...(weekly ? { weekly } : {}) } : undefined;
}

/**
 * The sending audience from the subscriber items (written by the subscribers module): the sparse GSI2
 * (`AUD#<frequency>`, present only while confirmed and not paused) for planning, and consistent reads
 * of the subscriber and `SUPPRESS#<hash>` items right before a batch is sent.
 */
export class DynamoAudience implements AudienceSource {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async page(frequency: Frequency, cursor: string | undefined, limit: number): Promise<AudiencePage> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'GSI2',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.audiencePartition(frequency) },
        ...projection,
        ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, '#pk': 'GSI2PK' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, { PK: ANY_KEY_VALUE, SK: ANY_KEY_VALUE, GSI2PK: keys.audiencePartition(frequency), GSI2SK: ANY_KEY_VALUE }),
      }),
    );
    return { members: (out.Items ?? []).map(toRecipient), next: encodeCursor(out.LastEvaluatedKey) ?? undefined };
  }

  /**
   * Pending subscribers from GSI1 (`SUBS#pending`), oldest first, narrowed to one import when asked. A
   * page may come back short (or empty with a cursor) when the filter leaves members out.
   */
  async pending(importId: string | undefined, cursor: string | undefined, limit: number): Promise<AudiencePage> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'GSI1',
        KeyConditionExpression: '#pk = :pk',
        ...(importId ? { FilterExpression: '#importId = :importId' } : {}),
        ExpressionAttributeValues: { ':pk': keys.subscriberStatusPartition('pending'), ...(importId ? { ':importId': importId } : {}) },
        ...projection,
        ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, '#pk': 'GSI1PK' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, {
          PK: ANY_KEY_VALUE,
          SK: ANY_KEY_VALUE,
          GSI1PK: keys.subscriberStatusPartition('pending'),
          GSI1SK: ANY_KEY_VALUE,
        }),
      }),
    );
    return { members: (out.Items ?? []).map(toRecipient), next: encodeCursor(out.LastEvaluatedKey) ?? undefined };
  }

  /** The items at these keys, by `PK|SK`; strongly consistent. */
  private async getMany(list: Keyed[]): Promise<Map<string, Record<string, unknown>>> {
    const items = await batchGetAll(this.db, this.table, list, { consistentRead: true });
    return new Map(items.map((it) => [`${String(it.PK)}|${String(it.SK)}`, it]));
  }

  async recipients(list: readonly [string, string][]): Promise<Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>> {
    const k = (x: Keyed) => `${x.PK}|${x.SK}`;
    const wanted: Keyed[] = [];
    for (const [id, hash] of list) {
      wanted.push(keys.subscriber(id), keys.subscriberDigests(id));
      if (hash) wanted.push(keys.suppression(hash));
    }
    const found = await this.getMany(wanted);
    // An address changed since planning: its own suppression record is what counts.
    const rechecks = list
      .map(([id, hash]) => ({ id, hash, now: found.get(k(keys.subscriber(id)))?.emailHash as string | undefined }))
      .filter((x) => x.now && x.now !== x.hash);
    if (rechecks.length) for (const [key, v] of await this.getMany(rechecks.map((x) => keys.suppression(x.now!)))) found.set(key, v);
    const result = new Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>();
    for (const [id] of list) {
      const item = found.get(k(keys.subscriber(id)));
      const recipient = item ? toRecipient(item) : undefined;
      if (recipient) recipient.lastDigestAt = mergeDates(recipient.lastDigestAt, found.get(k(keys.subscriberDigests(id))));
      const hash = recipient?.emailHash;
      result.set(id, { recipient, suppressed: hash ? found.has(k(keys.suppression(hash))) : false });
    }
    return result;
  }

  /**
   * Writes each recipient's digest dates item (one BatchWriteItem per 25): the dates as read right before
   * sending, with this digest's moved to `at`. A date already at or past `at` is left alone (never moved
   * back). The item lives apart from the subscriber item, so this rewrites no index entry and never
   * races a preference change; it expires {@link DIGEST_DATES_TTL_DAYS} days after the last digest.
   */
  async markDigestsSent(list: DigestMark[], frequency: 'daily' | 'weekly', at: string): Promise<void> {
    const expiresAt = Math.floor(new Date(at).getTime() / 1000) + DIGEST_DATES_TTL_DAYS * 86_400;
    const puts = list
      .filter((m) => !(m.previous?.[frequency] && m.previous[frequency]! >= at))
      .map((m) => ({
        PutRequest: { Item: { ...keys.subscriberDigests(m.subscriberId), entity: 'digestDates', ...dates(m.previous), [frequency]: at, expiresAt } },
      }));
    await batchWriteAll(this.db, this.table, puts);
  }
}
