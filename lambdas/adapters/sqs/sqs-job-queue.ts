import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { JobMessage, JobQueue } from '../../core/subscribers/jobs-ports.ts';

/** The jobs queue on Amazon SQS: one message per job, consumed by the jobs function. */
export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(message: JobMessage): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }
}
