/**
 * One event of the mail provider (SES event publishing, or SES receiving for `mailto:` unsubscribes), as the
 * events queue delivers it: its effect on the subscriber (suppression, the soft-bounce count, an unsubscribe)
 * and on the send it belongs to (what was reported, per recipient and per send). Both are idempotent on
 * their own, so a replayed event, or one retried after a failure half-way, changes nothing more.
 */
import * as z from 'zod';
import type { ReportKind } from './sends/model.ts';
import { recordReport, type ReportDeps, type ReportOutcome } from './sends/reports.ts';
import { handleSesEvent, type SesEventResult } from './subscribers/ses-events.ts';
import type { MailEventDeps } from './subscribers/use-cases.ts';

export interface ProviderEventDeps {
  subscribers: MailEventDeps;
  reports: ReportDeps;
}

export interface ProviderEventResult {
  subscriber: SesEventResult;
  /** One per report the event made about a send's recipient (none for an event of no send). */
  reports: { kind: ReportKind | 'sent'; outcome: ReportOutcome }[];
}

const Tagged = z
  .object({
    eventType: z.string().optional(),
    mail: z
      .object({ messageId: z.string().optional(), timestamp: z.string().optional(), tags: z.record(z.string(), z.array(z.string())).optional() })
      .loose()
      .optional(),
    bounce: z.object({ bounceType: z.string(), timestamp: z.string().optional() }).loose().optional(),
    complaint: z.object({ complaintFeedbackType: z.string().optional(), timestamp: z.string().optional() }).loose().optional(),
    delivery: z.object({ timestamp: z.string().optional() }).loose().optional(),
    deliveryDelay: z.object({ timestamp: z.string().optional() }).loose().optional(),
    reject: z.object({}).loose().optional(),
  })
  .loose();

/** What an event reports about its message, or undefined when it reports nothing a send records. */
function reportKind(e: z.infer<typeof Tagged>): { kind: ReportKind | 'sent'; at?: string | undefined } | undefined {
  switch (e.eventType) {
    case 'Send':
      return { kind: 'sent', at: e.mail?.timestamp };
    case 'Delivery':
      return { kind: 'delivered', at: e.delivery?.timestamp };
    case 'Bounce':
      return e.bounce ? { kind: e.bounce.bounceType === 'Permanent' ? 'hardBounced' : 'softBounced', at: e.bounce.timestamp } : undefined;
    case 'Complaint':
      // A "not spam" feedback is not a complaint.
      return e.complaint?.complaintFeedbackType === 'not-spam' ? undefined : { kind: 'complained', at: e.complaint?.timestamp };
    case 'Reject':
      return { kind: 'rejected' };
    case 'DeliveryDelay':
      return { kind: 'delayed', at: e.deliveryDelay?.timestamp };
    default:
      return undefined;
  }
}

export async function handleProviderEvent(deps: ProviderEventDeps, eventId: string, body: unknown): Promise<ProviderEventResult> {
  const subscriber = await handleSesEvent(deps.subscribers, eventId, body);
  const parsed = Tagged.safeParse(body);
  const reports: ProviderEventResult['reports'] = [];
  if (!parsed.success) return { subscriber, reports };
  const e = parsed.data;
  const sendId = e.mail?.tags?.send_id?.[0];
  const subscriberId = e.mail?.tags?.subscriber_id?.[0];
  const messageId = e.mail?.messageId;
  const report = reportKind(e);
  if (!sendId || !subscriberId || !messageId || !report) return { subscriber, reports };
  const at = report.at && !Number.isNaN(Date.parse(report.at)) ? new Date(report.at).toISOString() : deps.subscribers.clock.now().toISOString();
  reports.push({ kind: report.kind, outcome: await recordReport(deps.reports, { sendId, subscriberId, kind: report.kind, at, messageId }) });
  return { subscriber, reports };
}
