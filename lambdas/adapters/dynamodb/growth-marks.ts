import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GROWTH_KINDS, GROWTH_MARK_DAYS, type GrowthKind, type GrowthMark, type GrowthReader } from '../../core/subscribers/growth.ts';
import { GROWTH_SHARDS, keys } from './keys.ts';

/**
 * A growth mark as stored: written by the subscriber repository in the transaction of the write that
 * changed the confirmed list, and kept {@link GROWTH_MARK_DAYS} days past its day (then the TTL removes it).
 */
export const growthMarkItem = (m: GrowthMark): Record<string, unknown> => ({
  ...keys.growthMark(m),
  entity: 'growthMark',
  expiresAt: Math.floor(Date.parse(`${m.day}T00:00:00Z`) / 1000) + GROWTH_MARK_DAYS * 86_400,
});

/**
 * Counts the marks of a span of days: one query per shard (in parallel) over the sort-key range of the
 * span, reading only the sort keys (about 60 bytes a mark, so some 16,000 marks per 1 MB page).
 */
export class DynamoGrowthMarks implements GrowthReader {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async countsByDay(from: string, to: string): Promise<Map<string, Record<GrowthKind, number>>> {
    const out = new Map<string, Record<GrowthKind, number>>();
    const count = (sk: string) => {
      const [day, kind] = sk.split('#') as [string, GrowthKind];
      if (!GROWTH_KINDS.includes(kind)) return;
      let c = out.get(day);
      if (!c) out.set(day, (c = { confirmed: 0, unsubscribed: 0, suppressed: 0, erased: 0 }));
      c[kind]++;
    };
    await Promise.all(
      Array.from({ length: GROWTH_SHARDS }, async (_, shard) => {
        let start: Record<string, unknown> | undefined;
        do {
          const page = await this.db.send(
            new QueryCommand({
              TableName: this.table,
              KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
              ExpressionAttributeValues: { ':pk': keys.growthPartition(shard), ':from': from, ':to': `${to}~` },
              ProjectionExpression: 'SK',
              ExclusiveStartKey: start,
            }),
          );
          for (const it of page.Items ?? []) count(String(it.SK));
          start = page.LastEvaluatedKey;
        } while (start);
      }),
    );
    return out;
  }
}
