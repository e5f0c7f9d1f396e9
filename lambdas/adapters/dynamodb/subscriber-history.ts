import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SubscriberHistoryReader, SubscriberSendRecord } from '../../core/subscribers/history.ts';
import { REPORT_KINDS, type DeliveryState } from '../../core/sends/model.ts';
import type { Send } from '../../core/sends/model.ts';
import { batchGetAll } from './batch.ts';
import { keys, parseSendPartition } from './keys.ts';
import { DynamoSendRepository } from './send-repository.ts';

/**
 * A subscriber's deliveries, read where they live: in each send's partition (`SEND#<id>` / `D#<subscriberId>`,
 * and the report marker `R#<subscriberId>`). The newest sends are listed from the send index, then every
 * record is read by key in batches of 100, so a history costs about one read unit per send looked at.
 */
export class DynamoSubscriberHistory implements SubscriberHistoryReader {
  private readonly sends: DynamoSendRepository;
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.sends = new DynamoSendRepository(db, table);
  }

  async sendsTo(subscriberId: string, count: number): Promise<SubscriberSendRecord[]> {
    const sends: Send[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.sends.list({ limit: Math.min(100, count - sends.length), cursor });
      sends.push(...page.items);
      cursor = page.next ?? undefined;
    } while (cursor && sends.length < count);
    if (!sends.length) return [];
    const items = await batchGetAll(
      this.db,
      this.table,
      sends.flatMap((s) => [keys.delivery(s.id, subscriberId), keys.sendReport(s.id, subscriberId)]),
    );
    const deliveries = new Map<string, Record<string, unknown>>();
    const reports = new Map<string, Record<string, unknown>>();
    for (const it of items) {
      const sendId = parseSendPartition(String(it.PK));
      if (!sendId) continue;
      if (String(it.SK).startsWith(keys.deliveryPrefix)) deliveries.set(sendId, it);
      else reports.set(sendId, it);
    }
    const out: SubscriberSendRecord[] = [];
    for (const s of sends) {
      const d = deliveries.get(s.id);
      if (!d) continue;
      const r = reports.get(s.id);
      const reported: SubscriberSendRecord['reported'] = {};
      for (const kind of REPORT_KINDS) if (typeof r?.[kind] === 'string') reported[kind] = r[kind] as string;
      out.push({
        sendId: s.id,
        kind: s.kind,
        subject: s.subject,
        articleId: s.articleId,
        sendCreatedAt: s.createdAt,
        state: d.state as DeliveryState,
        submittedAt: d.submittedAt as string | undefined,
        code: d.code as string | undefined,
        reported,
      });
    }
    return out;
  }
}
