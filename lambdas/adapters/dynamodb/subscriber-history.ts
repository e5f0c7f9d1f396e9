import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SubscriberHistoryPage, SubscriberHistoryReader, SubscriberSendRecord } from '../../core/subscribers/history.ts';
import { REPORT_KINDS, type DeliveryState } from '../../core/sends/model.ts';
import { batchGetAll } from './batch.ts';
import { ANY_KEY_VALUE, decodeCursor, encodeCursor } from './errors.ts';
import { keys, parseSendPartition } from './keys.ts';

/**
 * A subscriber's deliveries, found through GSI3 (`DELIVERED#<subscriberId>` / `<claimedAt>#<sendId>`, keys
 * only) and then read where they live, in each send's partition: the delivery record (`D#<subscriberId>`),
 * the report marker (`R#<subscriberId>`) and the send itself, by key in batches of 100. A page of n
 * costs one index query and about 3n small reads, whatever the number of sends.
 */
export class DynamoSubscriberHistory implements SubscriberHistoryReader {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async sendsTo(subscriberId: string, page: { limit: number; cursor?: string | undefined }): Promise<SubscriberHistoryPage> {
    const partition = keys.subscriberDeliveriesPartition(subscriberId);
    const start = decodeCursor(page.cursor, { PK: ANY_KEY_VALUE, SK: ANY_KEY_VALUE, GSI3PK: partition, GSI3SK: ANY_KEY_VALUE });
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'GSI3',
        KeyConditionExpression: 'GSI3PK = :pk',
        ExpressionAttributeValues: { ':pk': partition },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: start,
      }),
    );
    const sendIds = (out.Items ?? []).map((it) => parseSendPartition(String(it.PK))).filter((id): id is string => id !== undefined);
    const items = sendIds.length
      ? await batchGetAll(
          this.db,
          this.table,
          sendIds.flatMap((id) => [keys.send(id), keys.delivery(id, subscriberId), keys.sendReport(id, subscriberId)]),
        )
      : [];
    const found = new Map<string, Record<string, unknown>>(items.map((it) => [`${it.PK}|${it.SK}`, it]));
    const at = (k: { PK: string; SK: string }) => found.get(`${k.PK}|${k.SK}`);
    const records: SubscriberSendRecord[] = [];
    for (const id of sendIds) {
      const send = at(keys.send(id));
      const d = at(keys.delivery(id, subscriberId));
      if (!send || !d) continue;
      const r = at(keys.sendReport(id, subscriberId));
      const reported: SubscriberSendRecord['reported'] = {};
      for (const kind of REPORT_KINDS) if (typeof r?.[kind] === 'string') reported[kind] = r[kind] as string;
      records.push({
        sendId: id,
        kind: send.kind as SubscriberSendRecord['kind'],
        subject: send.subject as string | undefined,
        articleId: send.articleId as string | undefined,
        sendCreatedAt: String(send.createdAt),
        state: d.state as DeliveryState,
        submittedAt: d.submittedAt as string | undefined,
        code: d.code as string | undefined,
        reported,
      });
    }
    return { items: records, next: encodeCursor(out.LastEvaluatedKey) };
  }
}
