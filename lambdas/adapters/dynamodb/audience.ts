import { BatchGetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Frequency } from '../../core/subscribers/schema.ts';
import type { Recipient } from '../../core/sends/model.ts';
import type { AudiencePage, AudienceSource } from '../../core/sends/ports.ts';
import { keys } from './keys.ts';
import { decodeCursor, encodeCursor } from './errors.ts';

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
        ExpressionAttributeValues: { ':pk': keys.audienceGsi2(frequency, '').GSI2PK },
        ...projection,
        ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, '#pk': 'GSI2PK' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, ['PK', 'SK', 'GSI2PK', 'GSI2SK']),
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
        ExpressionAttributeValues: { ':pk': keys.subscriberStatusGsi1('pending', '', '').GSI1PK, ...(importId ? { ':importId': importId } : {}) },
        ...projection,
        ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, '#pk': 'GSI1PK' },
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, ['PK', 'SK', 'GSI1PK', 'GSI1SK']),
      }),
    );
    return { members: (out.Items ?? []).map(toRecipient), next: encodeCursor(out.LastEvaluatedKey) ?? undefined };
  }

  /** BatchGetItem with its unprocessed keys retried; strongly consistent. */
  private async getMany(list: Keyed[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    const unique = [...new Map(list.map((k) => [`${k.PK}|${k.SK}`, k])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined = {
        [this.table]: { Keys: unique.slice(i, i + 100), ConsistentRead: true },
      };
      for (let round = 0; request && Object.keys(request).length > 0; round++) {
        const out = await this.db.send(new BatchGetCommand({ RequestItems: request }));
        for (const it of out.Responses?.[this.table] ?? []) found.set(`${String(it.PK)}|${String(it.SK)}`, it);
        request = out.UnprocessedKeys as typeof request;
        if (request && Object.keys(request).length > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** round)));
      }
    }
    return found;
  }

  async recipients(list: readonly [string, string][]): Promise<Map<string, { recipient?: Recipient | undefined; suppressed: boolean }>> {
    const k = (x: Keyed) => `${x.PK}|${x.SK}`;
    const wanted: Keyed[] = [];
    for (const [id, hash] of list) {
      wanted.push(keys.subscriber(id));
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
      const hash = recipient?.emailHash;
      result.set(id, { recipient, suppressed: hash ? found.has(k(keys.suppression(hash))) : false });
    }
    return result;
  }

  async markDigestsSent(list: { subscriberId: string; hasDigestDates: boolean }[], frequency: 'daily' | 'weekly', at: string): Promise<void> {
    // Groups of a whole claim wave: one transaction (of at most 100 actions) per wave.
    for (let i = 0; i < list.length; i += 50) await this.markGroup(list.slice(i, i + 50), frequency, at);
  }

  /** One transaction per group; members whose condition fails are set aside (already as new) or retried the other way. */
  private async markGroup(group: { subscriberId: string; hasDigestDates: boolean }[], frequency: 'daily' | 'weekly', at: string): Promise<void> {
    let pending = group;
    for (let attempt = 0; pending.length > 0 && attempt < 6; attempt++) {
      const batch = pending;
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: batch.map((m) => ({ Update: this.digestUpdate(m.subscriberId, m.hasDigestDates, frequency, at) })) }));
        return;
      } catch (e) {
        const reasons = (e as { name?: string; CancellationReasons?: { Code?: string }[] }).CancellationReasons;
        if ((e as { name?: string }).name !== 'TransactionCanceledException' || !reasons) throw e;
        const next: { subscriberId: string; hasDigestDates: boolean }[] = [];
        for (const [j, r] of reasons.entries()) {
          const m = batch[j]!;
          // A failed condition: either the map is not as read (try the other form once), or the date is
          // already at or past `at`, or the subscriber is gone. Both forms failing means nothing to move.
          if (r.Code === 'ConditionalCheckFailed') {
            if (attempt === 0) next.push({ ...m, hasDigestDates: !m.hasDigestDates });
          } else next.push(m);
        }
        if (next.length === batch.length && attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        pending = next;
      }
    }
  }

  private digestUpdate(subscriberId: string, hasDigestDates: boolean, frequency: 'daily' | 'weekly', at: string): { TableName: string; Key: Record<string, unknown>; UpdateExpression: string; ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> } {
    // The version moves so that a preference change read before this write retries instead of overwriting it.
    return hasDigestDates
      ? {
          TableName: this.table,
          Key: keys.subscriber(subscriberId),
          UpdateExpression: 'SET #l.#f = :at ADD #v :one',
          ConditionExpression: 'attribute_exists(PK) AND attribute_exists(#l) AND (attribute_not_exists(#l.#f) OR #l.#f < :at)',
          ExpressionAttributeNames: { '#l': 'lastDigestAt', '#v': 'version', '#f': frequency },
          ExpressionAttributeValues: { ':at': at, ':one': 1 },
        }
      : {
          TableName: this.table,
          Key: keys.subscriber(subscriberId),
          UpdateExpression: 'SET #l = :map ADD #v :one',
          ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(#l)',
          ExpressionAttributeNames: { '#l': 'lastDigestAt', '#v': 'version' },
          ExpressionAttributeValues: { ':map': { [frequency]: at }, ':one': 1 },
        };
  }
}
