import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

/**
 * What Lambda writes to an S3 on-failure destination for a stream batch it gave up on (retries or record
 * age spent): the invocation record with the batch itself as `payload`, so the batch can be replayed after
 * the stream has dropped its records (24 hours). The local runtime writes the same shape, so one replay
 * reads both.
 */
export interface StreamFailureRecord {
  version: string;
  timestamp: string;
  requestContext: { requestId: string; functionArn: string; condition: string; approximateInvokeCount: number };
  responseContext?: { statusCode?: number; executedVersion?: string; functionError?: string } | undefined;
  DDBStreamBatchInfo?: { shardId: string; startSequenceNumber?: string; endSequenceNumber?: string; batchSize: number; streamArn: string } | undefined;
  /** The invocation's event, as JSON text (Lambda may also write it as an object). */
  payload: string | DynamoDBStreamEvent;
}

/** A failure record read back: the function it was for (its name, the last part of the ARN) and the batch. */
export interface FailedBatch {
  functionArn: string;
  functionName: string;
  event: DynamoDBStreamEvent;
  records: number;
}

/** Parses a failure record; undefined when the text is not one (or holds no batch). */
export function parseStreamFailure(text: string): FailedBatch | undefined {
  let r: Partial<StreamFailureRecord>;
  try {
    r = JSON.parse(text) as Partial<StreamFailureRecord>;
  } catch {
    return undefined;
  }
  const functionArn = r.requestContext?.functionArn;
  if (typeof functionArn !== 'string' || r.payload === undefined) return undefined;
  let event: DynamoDBStreamEvent;
  try {
    event = (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as DynamoDBStreamEvent;
  } catch {
    return undefined;
  }
  if (!event || !Array.isArray(event.Records)) return undefined;
  // arn:aws:lambda:region:account:function:name[:qualifier]
  const functionName = functionArn.split(':')[6] ?? functionArn;
  return { functionArn, functionName, event, records: event.Records.length };
}

/** The failure record for a batch given up locally, in Lambda's shape. */
export function localFailureRecord(o: {
  functionName: string;
  shardId: string;
  records: DynamoDBRecord[];
  attempts: number;
  reason: string;
  at: Date;
  streamArn: string;
}): StreamFailureRecord {
  return {
    version: '1.0',
    timestamp: o.at.toISOString(),
    requestContext: {
      requestId: crypto.randomUUID(),
      functionArn: `arn:aws:lambda:local:000000000000:function:${o.functionName}`,
      condition: o.reason === 'timedOut' ? 'Timeout' : 'RetryAttemptsExhausted',
      approximateInvokeCount: o.attempts,
    },
    DDBStreamBatchInfo: {
      shardId: o.shardId,
      startSequenceNumber: o.records[0]?.dynamodb?.SequenceNumber,
      endSequenceNumber: o.records[o.records.length - 1]?.dynamodb?.SequenceNumber,
      batchSize: o.records.length,
      streamArn: o.streamArn,
    },
    payload: JSON.stringify({ Records: o.records }),
  };
}
