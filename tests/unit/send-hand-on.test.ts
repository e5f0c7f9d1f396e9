import { describe, expect, it } from 'vitest';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { deploymentLimits } from '../../infra/limits.ts';
import { handOnDelaySeconds, parseBatchMessage, type BatchMessage } from '../../lambdas/core/sends/model.ts';
import { SqsSendQueue } from '../../lambdas/adapters/sqs/sqs-send-queue.ts';

const batch = (stalls?: number): BatchMessage => ({
  v: 1,
  sendId: 's1',
  generation: 1,
  batchId: '0.1',
  recipients: [['a', 'h']],
  ...(stalls === undefined ? {} : { stalls }),
});

describe('a batch handed on after a run throttled throughout', () => {
  it('waits the deployment limits\u2019 stall delay, doubled per stall, at most SQS\u2019s 900 s; none after progress', () => {
    const { stallDelaySeconds, maxStalls } = deploymentLimits(14).sendWorker;
    const delays = [undefined, 0, 1, 2, 3, 4, 5, 6].map((n) => handOnDelaySeconds(batch(n), stallDelaySeconds));
    expect(delays).toEqual([0, 0, 30, 60, 120, 240, 480, 900]);
    // Every stall before the message is redelivered fits in SQS's delay.
    expect(handOnDelaySeconds(batch(maxStalls), stallDelaySeconds)).toBeLessThanOrEqual(900);
  });

  it('reads the stall count back from the queue message, and refuses one that is not a whole number', () => {
    expect(parseBatchMessage(JSON.stringify(batch(2)))?.stalls).toBe(2);
    expect(parseBatchMessage(JSON.stringify(batch()))?.stalls).toBeUndefined();
    expect(parseBatchMessage(JSON.stringify({ ...batch(), stalls: -1 }))).toBeUndefined();
    expect(parseBatchMessage(JSON.stringify({ ...batch(), stalls: 'many' }))).toBeUndefined();
  });

  it('goes to SQS with DelaySeconds (a recording client stands in for SQS, which has no local stand-in)', async () => {
    const sent: unknown[] = [];
    const client = {
      send: async (command: { input: unknown }) => {
        sent.push(command.input);
        return { Failed: [] };
      },
    } as unknown as SQSClient;
    const queue = new SqsSendQueue(client, 'https://sqs.example/q');
    await queue.enqueue([batch(1)], { delaySeconds: 30 });
    await queue.enqueue([batch()]);
    expect(sent).toMatchObject([{ Entries: [{ DelaySeconds: 30 }] }, { Entries: [{ Id: '0' }] }]);
    expect((sent[1] as { Entries: Record<string, unknown>[] }).Entries[0]).not.toHaveProperty('DelaySeconds');
  });
});
