import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_SCHEMA } from './table-schema.ts';

type Item = Record<string, unknown>;
type KeyOf = Record<string, unknown>;

/** What BatchWriteItem takes for one item: a put or a delete. */
export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: KeyOf } };

/**
 * How unprocessed items are retried. DynamoDB returns part of a batch unprocessed when a partition is
 * throttled; retrying at once only throttles again, so each round waits twice as long as the one before
 * (`baseDelayMs`, doubling up to `maxDelayMs`). A batch still incomplete after `maxAttempts` requests is
 * an error: the caller's own retry (a queue redelivery, a repeated import) is the better place to wait longer.
 */
export interface BatchRetry {
  maxAttempts?: number | undefined;
  baseDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
}

export const BATCH_RETRY_DEFAULTS = { maxAttempts: 13, baseDelayMs: 25, maxDelayMs: 1000 } as const;

/** DynamoDB's limits per request. */
export const BATCH_GET_LIMIT = 100;
export const BATCH_WRITE_LIMIT = 25;

/** A batch DynamoDB still left partly unprocessed after every attempt. */
export class BatchIncomplete extends Error {
  constructor(
    readonly operation: 'BatchGetItem' | 'BatchWriteItem',
    readonly unprocessed: number,
    readonly attempts: number,
  ) {
    super(`DynamoDB left ${unprocessed} item(s) of a ${operation} unprocessed after ${attempts} attempts (throttled); try again later`);
    this.name = 'BatchIncomplete';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `attempt` with the still-unprocessed part of one batch until nothing is left, backing off
 * between rounds. `attempt` answers what it left unprocessed.
 */
async function untilProcessed<T>(operation: BatchIncomplete['operation'], first: T[], attempt: (part: T[]) => Promise<T[]>, retry: BatchRetry): Promise<void> {
  const maxAttempts = retry.maxAttempts ?? BATCH_RETRY_DEFAULTS.maxAttempts;
  const base = retry.baseDelayMs ?? BATCH_RETRY_DEFAULTS.baseDelayMs;
  const cap = retry.maxDelayMs ?? BATCH_RETRY_DEFAULTS.maxDelayMs;
  let pending = first;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= maxAttempts) throw new BatchIncomplete(operation, pending.length, round);
    if (round > 0 && base > 0) await sleep(Math.min(cap, base * 2 ** (round - 1)));
    pending = await attempt(pending);
  }
}

/**
 * Reads every item of `keyList` from one table with BatchGetItem, 100 keys a request, retrying what comes
 * back unprocessed. Keys repeated in the list are read once (DynamoDB refuses a request that repeats one).
 * Items come back in no particular order; missing items are simply absent.
 */
export async function batchGetAll(
  db: DynamoDBDocumentClient,
  table: string,
  keyList: readonly KeyOf[],
  options: BatchRetry & {
    consistentRead?: boolean | undefined;
    projection?: { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } | undefined;
  } = {},
): Promise<Item[]> {
  const { partitionKey, sortKey } = TABLE_SCHEMA;
  const unique = [...new Map(keyList.map((k) => [`${String(k[partitionKey])}|${String(k[sortKey])}`, k])).values()];
  const found: Item[] = [];
  for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) {
    await untilProcessed(
      'BatchGetItem',
      unique.slice(i, i + BATCH_GET_LIMIT),
      async (part) => {
        const out = await db.send(
          new BatchGetCommand({
            RequestItems: { [table]: { Keys: part, ...(options.consistentRead ? { ConsistentRead: true } : {}), ...options.projection } },
          }),
        );
        found.push(...(out.Responses?.[table] ?? []));
        return (out.UnprocessedKeys?.[table]?.Keys ?? []) as KeyOf[];
      },
      options,
    );
  }
  return found;
}

/**
 * Writes every request with BatchWriteItem, 25 a request and `concurrency` requests at once, retrying
 * what comes back unprocessed. BatchWriteItem has no conditions: use it only where a plain overwrite is right.
 */
export async function batchWriteAll(
  db: DynamoDBDocumentClient,
  table: string,
  requests: readonly WriteRequest[],
  options: BatchRetry & { concurrency?: number | undefined } = {},
): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) chunks.push(requests.slice(i, i + BATCH_WRITE_LIMIT));
  let next = 0;
  // `concurrency` lanes, each taking the next chunk when its last one is done (a slow, throttled chunk holds up only its lane).
  const lane = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!;
      await untilProcessed(
        'BatchWriteItem',
        chunk,
        async (part) => {
          const out = await db.send(new BatchWriteCommand({ RequestItems: { [table]: part } }));
          return (out.UnprocessedItems?.[table] ?? []) as WriteRequest[];
        },
        options,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, options.concurrency ?? 1), chunks.length) }, lane));
}
