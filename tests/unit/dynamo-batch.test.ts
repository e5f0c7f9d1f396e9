import { describe, expect, it, vi } from 'vitest';
import type { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchIncomplete, batchGetAll, batchWriteAll, type WriteRequest } from '../../lambdas/adapters/dynamodb/batch.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

/**
 * DynamoDB Local never throttles, so it cannot return unprocessed items: a client stand-in that leaves
 * part of each request unprocessed plays a throttling storm here. No delay between rounds (baseDelayMs 0).
 */
type Input = { RequestItems: Record<string, { Keys?: Record<string, unknown>[] } | WriteRequest[]> };

function throttlingClient(answer: (input: Input, call: number) => Record<string, unknown>) {
  const calls: Input[] = [];
  const client = {
    send: async (command: BatchGetCommand | BatchWriteCommand) => {
      const input = structuredClone(command.input) as Input;
      calls.push(input);
      return answer(input, calls.length);
    },
  };
  return { db: client as unknown as DynamoDBDocumentClient, calls };
}

const T = 'table';
const fast = { baseDelayMs: 0 };
const put = (id: string): WriteRequest => ({ PutRequest: { Item: { ...keys.subscriber(id), id } } });

describe('batchGetAll', () => {
  it('retries the keys a throttling storm (client stand-in) leaves unprocessed until every item is read', async () => {
    const { db, calls } = throttlingClient((input) => {
      const asked = (input.RequestItems[T] as { Keys: Record<string, unknown>[] }).Keys;
      // Each round DynamoDB reads only the first key it was given and hands back the rest.
      const [first, ...rest] = asked;
      return { Responses: { [T]: [{ ...first, id: first!.PK }] }, UnprocessedKeys: rest.length ? { [T]: { Keys: rest } } : {} };
    });
    const items = await batchGetAll(db, T, [keys.subscriber('a'), keys.subscriber('b'), keys.subscriber('c')], { ...fast, consistentRead: true });
    expect(items.map((i) => i.id).sort()).toEqual(['SUB#a', 'SUB#b', 'SUB#c']);
    expect(calls.map((c) => (c.RequestItems[T] as { Keys: unknown[] }).Keys.length)).toEqual([3, 2, 1]);
    expect(calls.every((c) => (c.RequestItems[T] as { ConsistentRead?: boolean }).ConsistentRead === true)).toBe(true);
  });

  it('reads 100 keys a request and a key repeated in the list once', async () => {
    const { db, calls } = throttlingClient(() => ({ Responses: { [T]: [] } }));
    const list = Array.from({ length: 250 }, (_, i) => keys.subscriber(String(i)));
    await batchGetAll(db, T, [...list, keys.subscriber('0')], fast);
    expect(calls.map((c) => (c.RequestItems[T] as { Keys: unknown[] }).Keys.length)).toEqual([100, 100, 50]);
  });

  it('gives up after maxAttempts with an error naming how much was left when a throttling storm (client stand-in) never ends', async () => {
    const { db, calls } = throttlingClient((input) => ({ Responses: { [T]: [] }, UnprocessedKeys: { [T]: input.RequestItems[T] } }));
    const failure = batchGetAll(db, T, [keys.subscriber('a'), keys.subscriber('b')], { ...fast, maxAttempts: 4 });
    await expect(failure).rejects.toBeInstanceOf(BatchIncomplete);
    await expect(failure).rejects.toMatchObject({
      operation: 'BatchGetItem',
      unprocessed: 2,
      attempts: 4,
      message: expect.stringMatching(/2 item\(s\) of a BatchGetItem unprocessed after 4 attempts/),
    });
    expect(calls).toHaveLength(4);
  });
});

describe('batchWriteAll', () => {
  it('writes 25 a request and retries only what a throttling storm (client stand-in) leaves unprocessed', async () => {
    const written: string[] = [];
    const { db, calls } = throttlingClient((input) => {
      const asked = input.RequestItems[T] as WriteRequest[];
      // Half of each request is throttled.
      const done = asked.slice(0, Math.ceil(asked.length / 2));
      for (const w of done) written.push(String((w as { PutRequest: { Item: { id: string } } }).PutRequest.Item.id));
      const left = asked.slice(done.length);
      return { UnprocessedItems: left.length ? { [T]: left } : {} };
    });
    const requests = Array.from({ length: 30 }, (_, i) => put(`s${i}`));
    await batchWriteAll(db, T, requests, fast);
    expect(written.sort()).toEqual(requests.map((r) => String((r as { PutRequest: { Item: { id: string } } }).PutRequest.Item.id)).sort());
    // 25 then its unprocessed halves (12, 6, 3, 1), then the last 5 (2, 1).
    expect(calls.map((c) => (c.RequestItems[T] as WriteRequest[]).length)).toEqual([25, 12, 6, 3, 1, 5, 2, 1]);
  });

  it('gives up after maxAttempts with a BatchIncomplete error when a throttling storm (client stand-in) never ends', async () => {
    const { db, calls } = throttlingClient((input) => ({ UnprocessedItems: { [T]: input.RequestItems[T] } }));
    await expect(batchWriteAll(db, T, [put('a'), put('b'), put('c')], { ...fast, maxAttempts: 3 })).rejects.toMatchObject({
      name: 'BatchIncomplete',
      operation: 'BatchWriteItem',
      unprocessed: 3,
      attempts: 3,
    });
    expect(calls).toHaveLength(3);
  });

  it('keeps at most `concurrency` requests in flight, and uses them all', async () => {
    let inFlight = 0;
    let most = 0;
    let requests = 0;
    const client = {
      send: async () => {
        requests++;
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return {};
      },
    };
    await batchWriteAll(
      client as unknown as DynamoDBDocumentClient,
      T,
      Array.from({ length: 200 }, (_, i) => put(`p${i}`)),
      { concurrency: 3 },
    );
    expect(requests).toBe(8);
    expect(most).toBe(3);
  });

  it('waits longer before each retry, doubling up to maxDelayMs', async () => {
    const { db } = throttlingClient((input, call) => ({ UnprocessedItems: call < 5 ? { [T]: input.RequestItems[T] } : {} }));
    const timer = vi.spyOn(globalThis, 'setTimeout');
    try {
      await batchWriteAll(db, T, [put('a')], { baseDelayMs: 1, maxDelayMs: 4 });
      expect(timer.mock.calls.map((c) => c[1])).toEqual([1, 2, 4, 4]);
    } finally {
      timer.mockRestore();
    }
  });
});
