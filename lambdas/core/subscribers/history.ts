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

/** Reads one subscriber's delivery records (and reports) across the newest sends. */
export interface SubscriberHistoryReader {
  /**
   * The subscriber's record in each of the newest `sends` sends (newest first), skipping sends that
   * never had them in their audience.
   */
  sendsTo(subscriberId: string, sends: number): Promise<SubscriberSendRecord[]>;
}

/** How many of the newest sends a history looks through. */
export const HISTORY_SENDS = 100;

/**
 * What was sent to a subscriber: their record in each of the newest {@link HISTORY_SENDS} sends. Records
 * are kept with their send, so older sends are not looked at (a long list would cost one read per send).
 */
export async function subscriberSendHistory(deps: { history: SubscriberHistoryReader }, subscriberId: string): Promise<SubscriberSendRecord[]> {
  return deps.history.sendsTo(subscriberId, HISTORY_SENDS);
}
