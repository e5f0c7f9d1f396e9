/**
 * What SES would publish about a message the local endpoint accepted, as its mailbox simulator behaves
 * (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator), so
 * bounces and complaints can be tried end to end with `npm start`:
 *
 * - `success@simulator.amazonses.com` (and any other address): a Delivery event;
 * - `bounce@simulator.amazonses.com`: a permanent Bounce (`General`);
 * - `complaint@simulator.amazonses.com`: a Delivery, then a Complaint (`abuse`);
 * - `ooto@simulator.amazonses.com`: a Delivery (the out-of-office reply goes to the sender: no event acts on it);
 * - `suppressionlist@simulator.amazonses.com`: a permanent Bounce as SES's suppression list gives it
 *   (`OnAccountSuppressionList`).
 *
 * An address on the account-level suppression list bounces the same way, whatever it is.
 *
 * A label is allowed, as SES allows it: `bounce+anything@simulator.amazonses.com`. As in SES, events are
 * published only for messages sent through a configuration set (ours have an event destination); each is
 * wrapped in the SNS envelope the events queue receives (raw delivery off).
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboxSidecar } from './outbox-store.ts';

/** The local stand-in of the events topic (the stack's `SesEventsTopicArn`). */
export const LOCAL_EVENTS_TOPIC_ARN = 'arn:aws:sns:local:000000000000:inkwire-ses-events';

export type SimulatedOutcome = 'delivery' | 'bounce' | 'complaint' | 'suppressionlist';

/** What the simulator does with one recipient. */
export function simulatedOutcome(address: string): SimulatedOutcome {
  const m = /^([^@+]+)(?:\+[^@]*)?@simulator\.amazonses\.com$/i.exec(address.trim());
  switch (m?.[1]?.toLowerCase()) {
    case 'bounce':
      return 'bounce';
    case 'complaint':
      return 'complaint';
    case 'suppressionlist':
      return 'suppressionlist';
    default:
      return 'delivery';
  }
}

function mailOf(m: OutboxSidecar & { configurationSet: string }) {
  return {
    timestamp: m.receivedAt,
    source: m.source ?? m.from ?? '',
    sendingAccountId: '000000000000',
    messageId: m.messageId,
    destination: m.destinations,
    headersTruncated: false,
    commonHeaders: {
      ...(m.from ? { from: [m.from] } : {}),
      ...(m.to ? { to: [m.to] } : {}),
      ...(m.subject !== undefined ? { subject: m.subject } : {}),
      messageId: m.messageId,
    },
    tags: {
      'ses:configuration-set': [m.configurationSet],
      'ses:source-ip': ['127.0.0.1'],
      ...Object.fromEntries(Object.entries(m.tags).map(([k, v]) => [k, [v]])),
    },
  };
}

/** SES's Send event: the call was accepted (published at once, before any delivery attempt). */
export function sendEvent(m: OutboxSidecar): Record<string, unknown> | undefined {
  if (!m.configurationSet) return undefined;
  return { eventType: 'Send', mail: mailOf({ ...m, configurationSet: m.configurationSet }), send: {} };
}

/**
 * The SES events (event publishing format) for an accepted message, in the order SES sends them. A
 * recipient on the account's suppression list (`suppressed`) bounces as `suppressionlist@` does: SES
 * accepts the call, delivers nothing and reports the bounce.
 */
export function simulatedEvents(
  m: OutboxSidecar,
  now: Date,
  suppressed: (address: string, configurationSet: string) => boolean = () => false,
): Record<string, unknown>[] {
  if (!m.configurationSet) return [];
  const at = now.toISOString();
  const mail = mailOf({ ...m, configurationSet: m.configurationSet });
  const outcome = (d: string): SimulatedOutcome => (suppressed(d, m.configurationSet!) ? 'suppressionlist' : simulatedOutcome(d));
  const by = (o: SimulatedOutcome) => m.destinations.filter((d) => outcome(d) === o);
  const delivered = [...by('delivery'), ...by('complaint')];
  const events: Record<string, unknown>[] = [{ eventType: 'Send', mail, send: {} }];
  if (delivered.length) {
    events.push({
      eventType: 'Delivery',
      mail,
      delivery: { timestamp: at, processingTimeMillis: 0, recipients: delivered, smtpResponse: '250 2.6.0 Message received', reportingMTA: 'local.inkwire' },
    });
  }
  for (const [outcome, subType] of [
    ['bounce', 'General'],
    ['suppressionlist', 'OnAccountSuppressionList'],
  ] as const) {
    const bounced = by(outcome);
    if (!bounced.length) continue;
    events.push({
      eventType: 'Bounce',
      mail,
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: subType,
        bouncedRecipients: bounced.map((emailAddress) =>
          outcome === 'bounce' ? { emailAddress, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' } : { emailAddress },
        ),
        timestamp: at,
        feedbackId: randomUUID(),
        reportingMTA: 'dns; local.inkwire',
      },
    });
  }
  const complained = by('complaint');
  if (complained.length) {
    events.push({
      eventType: 'Complaint',
      mail,
      complaint: {
        complainedRecipients: complained.map((emailAddress) => ({ emailAddress })),
        timestamp: at,
        feedbackId: randomUUID(),
        userAgent: 'Amazon SES Mailbox Simulator',
        complaintFeedbackType: 'abuse',
        arrivalDate: at,
      },
    });
  }
  return events;
}

/** An SNS notification carrying `message`, as SNS delivers it to an SQS queue without raw delivery. */
export function snsEnvelope(message: unknown, now: Date, topicArn = LOCAL_EVENTS_TOPIC_ARN): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: topicArn,
    Message: JSON.stringify(message),
    Timestamp: now.toISOString(),
    SignatureVersion: '2',
    Signature: '',
    SigningCertURL: '',
    UnsubscribeURL: '',
  });
}

/**
 * The Send events of the messages accepted since `since`, read back from the outbox. The in-process events
 * queue dies with its process; SES's events do not. At start the runtime publishes these again (handling
 * a Send event twice changes nothing), so a recipient whose call reached the endpoint right before a crash
 * is settled as submitted, not left uncertain and sent again.
 */
export async function recentSendEvents(outboxDir: string, since: Date): Promise<Record<string, unknown>[]> {
  const sinceDay = since.toISOString().slice(0, 10);
  const sinceStamp = since.toISOString().replace(/[-:.]/g, '');
  let days: string[];
  try {
    days = (await readdir(outboxDir)).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && d >= sinceDay).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const events: Record<string, unknown>[] = [];
  for (const day of days) {
    for (const name of (await readdir(join(outboxDir, day))).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
      if (name.slice(0, sinceStamp.length) < sinceStamp) continue;
      try {
        const event = sendEvent(JSON.parse(await readFile(join(outboxDir, day, name), 'utf8')) as OutboxSidecar);
        if (event) events.push(event);
      } catch {
        // A sidecar being written as the process died: its message was not accepted.
      }
    }
  }
  return events;
}
