import { describe, expect, it } from 'vitest';
import type { SQSRecord } from 'aws-lambda';
import { InProcessQueue } from '../../lambdas/local/queue.ts';

describe('the in-process queue\u2019s dead letters (the DLQ and its consumer, locally)', () => {
  it('hands each given-up message once to onDeadLetter, SQS-shaped, after it is in the dead-letter list; idle() waits for it', async () => {
    const handed: { record: SQSRecord; listed: number }[] = [];
    let finished = 0;
    const q = new InProcessQueue({
      name: 'send',
      maxReceives: 3,
      // Test override: a short visibility timeout, so that three receives take milliseconds.
      visibilityTimeoutMs: 5,
      onDeadLetter: async (record) => {
        handed.push({ record, listed: q.deadLetters.length });
        await new Promise((r) => setTimeout(r, 20));
        finished++;
      },
    });
    q.start(async (event) => ({ batchItemFailures: event.Records.filter((r) => r.body !== 'fine').map((r) => ({ itemIdentifier: r.messageId })) }));
    q.sendBodies(['poison', 'fine']);
    await q.idle();
    expect(finished).toBe(1);
    expect(handed).toHaveLength(1);
    const { record, listed } = handed[0]!;
    expect(listed).toBe(1);
    expect(record).toMatchObject({
      body: 'poison',
      messageId: q.deadLetters[0]!.messageId,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:send-dead-letter',
    });
    expect(record.attributes.ApproximateReceiveCount).toBe('3');
    await q.stop();
  });

  it('keeps the message in the dead-letter list and logs it when the consumer reports a failure or throws', async () => {
    const logged: string[] = [];
    let calls = 0;
    const q = new InProcessQueue({
      maxReceives: 1,
      log: (m) => logged.push(m),
      onDeadLetter: async (record) => {
        calls++;
        if (record.body === 'throws') throw new Error('table unreachable');
        return { batchItemFailures: [{ itemIdentifier: record.messageId }] };
      },
    });
    q.start(async () => {
      throw new Error('worker down');
    });
    q.sendBodies(['reported']);
    await q.idle();
    q.sendBodies(['throws']);
    await q.idle();
    expect(calls).toBe(2);
    expect(q.deadLetters.map((d) => d.body)).toEqual(['reported', 'throws']);
    expect(logged.filter((m) => m.includes('dead-letter consumer'))).toEqual([
      expect.stringMatching(/could not settle message .*; it stays in the dead-letter list$/),
      expect.stringMatching(/threw on message .*; it stays in the dead-letter list$/),
    ]);
    await q.stop();
  });
});
