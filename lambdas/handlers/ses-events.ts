import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleProviderEvent, type ProviderEventDeps } from '../core/provider-events.ts';
import { withCorrelation } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

/** The SNS envelope around each message of the events queue (the subscription does not use raw delivery). */
interface SnsEnvelope {
  Type?: string;
  MessageId?: string;
  TopicArn?: string;
  Message?: string;
}

/**
 * The consumer of the SES events queue (SNS -> SQS; locally the in-process queue the local SES endpoint
 * publishes to). Each message is an SNS notification holding one SES event. The SNS message id names the
 * event, so a replay (SNS delivers at least once; SQS redelivers a failed message) changes nothing. Only our
 * topic can send to the queue (its policy), so no signature is checked here. A message that cannot be
 * handled is reported as failed: after the queue's receives it lands in the dead-letter queue, which alarms.
 */
export function createSesEventsHandler(deps: ProviderEventDeps | (() => Promise<ProviderEventDeps>)) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    const log = resolved.subscribers.log ?? ((m: string, d: unknown) => console.error(m, d));
    const failures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      try {
        const envelope = JSON.parse(record.body) as SnsEnvelope;
        if (envelope.Type !== 'Notification' || typeof envelope.MessageId !== 'string' || typeof envelope.Message !== 'string') {
          throw new Error(`not an SNS notification (Type ${String(envelope.Type)})`);
        }
        const body = JSON.parse(envelope.Message) as { mail?: { tags?: { send_id?: unknown[] } } } | null;
        // The event's send (its message tag), so a send's SES events are found with its other lines.
        const sendId = body?.mail?.tags?.send_id?.[0];
        await withCorrelation(
          { message_id: record.messageId, sns_message_id: envelope.MessageId, send_id: typeof sendId === 'string' ? sendId : undefined },
          async () => {
            const result = await handleProviderEvent(resolved, envelope.MessageId!, body as unknown);
            log('ses event', { snsMessageId: envelope.MessageId, ...result });
          },
        );
      } catch (e) {
        log('ses event: could not be handled; the queue will deliver it again', {
          messageId: record.messageId,
          error: e instanceof Error ? e.message : String(e),
        });
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}

/** Lambda entry point (AWS composition in ./aws/events.ts). */
export const handler = lambdaEntry(
  'sesEvents',
  createSesEventsHandler(async () => (await import('./aws/events.ts')).awsProviderEventDeps()),
);
