import type { DeliveryState, ReportKind } from '../sends/model.ts';

/** One send as a subscriber's history shows it: what the send was, and what happened to their message. */
export interface SubscriberSendRecord {
  sendId: string;
  kind: 'article' | 'digest' | 'confirmation';
  subject?: string | undefined;
  articleId?: string | undefined;
  sendCreatedAt: string;
  state: DeliveryState;
  /** When SES accepted it. */
  submittedAt?: string | undefined;
  /** Failure or skip code. */
  code?: string | undefined;
  /** What SES reported about the message, each with its time. */
  reported: Partial<Record<ReportKind, string>>;
}

export interface SubscriberHistoryPage {
  items: SubscriberSendRecord[];
  /** Where the next (older) page starts; null on the last page. */
  next: string | null;
}

/** Reads one subscriber's delivery records (and what was reported about them), newest first. */
export interface SubscriberHistoryReader {
  /**
   * One page of the sends that had the subscriber in their audience and reached them (a delivery
   * record: sent, failed or skipped), newest first. Recipients a digest's plan left out (nothing new
   * for them) have no record, so those sends are not in it. Throws the app's 400 for a cursor it did not make.
   */
  sendsTo(subscriberId: string, page: { limit: number; cursor?: string | undefined }): Promise<SubscriberHistoryPage>;
}

/** What was sent to a subscriber, a page at a time: every send that created a delivery record for them. */
export async function subscriberSendHistory(
  deps: { history: SubscriberHistoryReader },
  subscriberId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<SubscriberHistoryPage> {
  return deps.history.sendsTo(subscriberId, page);
}
