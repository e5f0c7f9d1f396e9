import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_QUEUE_DELAY_SECONDS, type BatchMessage } from '../../core/sends/model.ts';
import type { SendQueue } from '../../core/sends/ports.ts';

/** SendMessageBatch takes at most 10 messages. */
const SQS_BATCH = 10;

/**
 * The send queue on Amazon SQS: batches go out ten per SendMessageBatch call; entries SQS reports as
 * failed are sent again with backoff, and an error is thrown (so the planner's checkpoint does not move)
 * when some still fail.
 */
export class SqsSendQueue implements SendQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async enqueue(messages: BatchMessage[], options: { delaySeconds?: number | undefined } = {}): Promise<void> {
    const delay = options.delaySeconds ? { DelaySeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, Math.ceil(options.delaySeconds)) } : {};
    for (let i = 0; i < messages.length; i += SQS_BATCH) {
      let entries = messages.slice(i, i + SQS_BATCH).map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m), ...delay }));
      for (let attempt = 0; entries.length > 0; attempt++) {
        const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        const senderFault = (out.Failed ?? []).find((f) => f.SenderFault);
        if (senderFault) throw new Error(`SQS refused a batch message: ${senderFault.Code ?? ''} ${senderFault.Message ?? ''}`);
        entries = entries.filter((e) => failed.has(e.Id));
        if (entries.length === 0) break;
        if (attempt >= 4) throw new Error(`SQS did not accept ${entries.length} batch message(s) after ${attempt + 1} attempts`);
        await this.sleep(100 * 2 ** attempt);
      }
    }
  }
}
