/**
 * The table's stream records, read with the keys of `keys.ts` and nothing else: which item a record is
 * about, its images as plain objects, and the event source filters that select them. Every stream handler
 * (and the local stream poller, through the same filters) decodes records here.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { FeedKey } from '../../core/feeds/feeds.ts';
import type { Send } from '../../core/sends/model.ts';
import { keys, parseFeedEntryKey, parseSendKey, type Key } from './keys.ts';
import { fromAttributeMap, sendFromItem } from './send-repository.ts';

/** The item key a stream record is about, when it has one. */
export function recordKey(r: DynamoDBRecord): Key | undefined {
  const PK = r.dynamodb?.Keys?.PK?.S;
  const SK = r.dynamodb?.Keys?.SK?.S;
  return PK && SK ? { PK, SK } : undefined;
}

/** A change of a Send item: its id and the send before and after (absent for a new or removed item). */
export interface SendChange {
  id: string;
  before: Send | undefined;
  after: Send | undefined;
  sequence: string | undefined;
}

const sendImage = (image: unknown): Send | undefined => {
  const plain = fromAttributeMap(image as Record<string, AttributeValue> | undefined);
  return plain && plain.entity === 'send' ? sendFromItem(plain) : undefined;
};

/** Decodes a record of a Send item; undefined for every other record. */
export function decodeSendChange(r: DynamoDBRecord): SendChange | undefined {
  const key = recordKey(r);
  const id = key && parseSendKey(key);
  if (id === undefined) return undefined;
  return {
    id,
    before: sendImage(r.dynamodb?.OldImage),
    after: r.eventName === 'REMOVE' ? undefined : sendImage(r.dynamodb?.NewImage),
    sequence: r.dynamodb?.SequenceNumber,
  };
}

/** Decodes a record of a feed entry: its feed and month; undefined for every other record. */
export function decodeFeedEntry(r: DynamoDBRecord): { feed: FeedKey; month: string } | undefined {
  const key = recordKey(r);
  const parsed = key && parseFeedEntryKey(key);
  return parsed ? { feed: parsed.feed, month: parsed.month } : undefined;
}

/**
 * Event filters for the table's stream, in Lambda's filter-pattern syntax, from the same keys. The CDK
 * stack passes them to the event source mappings; the local stream poller applies them before calling
 * the handlers.
 */
export const STREAM_FILTERS = {
  feedRebuild: { dynamodb: { Keys: { PK: { S: [{ prefix: keys.feedPartition('' as FeedKey) }] } } } },
  sendPlanner: { dynamodb: { Keys: { PK: { S: [{ prefix: keys.send('').PK }] }, SK: { S: [keys.send('').SK] } } } },
};
