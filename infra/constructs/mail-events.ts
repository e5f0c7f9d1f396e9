import { Duration, Validations } from 'aws-cdk-lib';
import { ConfigurationSet, ConfigurationSetTlsPolicy, EmailSendingEvent, EventDestination, SuppressionReasons } from 'aws-cdk-lib/aws-ses';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeploymentLimits } from '../limits.ts';
import { CONFIGURATION_SETS, type SuppressedReason } from '../mail-settings.ts';

/** Configuration set names; the functions receive them as SES_CONFIGURATION_SET_NEWSLETTER/_TRANSACTIONAL. */
export const CONFIGURATION_SET_NAMES = { newsletter: CONFIGURATION_SETS.newsletter.name, transactional: CONFIGURATION_SETS.transactional.name } as const;

/** The CDK value for the reasons of the account-level suppression list a configuration set honours. */
function suppressionReasonsOf(reasons: readonly SuppressedReason[]): SuppressionReasons {
  const bounce = reasons.includes('BOUNCE');
  const complaint = reasons.includes('COMPLAINT');
  if (bounce && complaint) return SuppressionReasons.BOUNCES_AND_COMPLAINTS;
  if (complaint) return SuppressionReasons.COMPLAINTS_ONLY;
  if (bounce) return SuppressionReasons.BOUNCES_ONLY;
  throw new Error('a configuration set honours at least one suppression reason');
}

/**
 * What SES reports about each message; the SesEvents function records deliveries and delivery delays,
 * and suppresses bounces and complaints.
 */
export const PUBLISHED_EVENTS = [
  // SES accepted the call: it settles a recipient whose call was in flight when its worker died.
  EmailSendingEvent.SEND,
  EmailSendingEvent.BOUNCE,
  EmailSendingEvent.COMPLAINT,
  EmailSendingEvent.REJECT,
  EmailSendingEvent.DELIVERY,
  EmailSendingEvent.DELIVERY_DELAY,
];

export interface MailEventsProps {
  /**
   * The deployment's limits: the events queue's visibility timeout and receives before its dead-letter
   * queue come from its consumer's (`sesEvents`).
   */
  limits: Pick<DeploymentLimits, 'sesEvents'>;
}

/**
 * The two SES configuration sets (newsletters apart from transactional mail, so each has its own
 * reputation metrics and a newsletter problem cannot pause confirmation emails), the SNS topic that
 * carries their events (and what the mailto unsubscribe receipt rule publishes), and the SQS queue,
 * with its dead-letter queue, that the topic delivers them to for the SesEvents function.
 */
export class MailEvents extends Construct {
  readonly topic: Topic;
  /** The topic's events, for the SesEvents function (SQS event source). */
  readonly queue: Queue;
  /** Where an event goes after `sesEvents.maxReceiveCount` failed receives; an alarm watches it. */
  readonly deadLetterQueue: Queue;
  readonly newsletter: ConfigurationSet;
  readonly transactional: ConfigurationSet;

  constructor(scope: Construct, id: string, props: MailEventsProps) {
    super(scope, id);

    // Signature version 2: SNS signs its messages with SHA256.
    this.topic = new Topic(this, 'EventsTopic', { displayName: 'Inkwire SES events', enforceSSL: true, signatureVersion: '2' });

    const { sesEvents } = props.limits;
    this.deadLetterQueue = new Queue(this, 'EventsDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // The visibility timeout follows Lambda's guidance for SQS event sources (six function timeouts plus
    // the batching window, see `visibilityFor`), so an event is not handed to a second run while the
    // first, throttled and retried by Lambda, still holds it.
    this.queue = new Queue(this, 'EventsQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(sesEvents.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: sesEvents.maxReceiveCount },
    });
    // Raw delivery off: the consumer reads the SNS envelope's MessageId to recognise a replayed event.
    // The subscription adds the queue policy that lets this topic (aws:SourceArn) send to the queue.
    this.topic.addSubscription(new SqsSubscription(this.queue, { rawMessageDelivery: false }));
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This queue is itself a dead-letter queue (the end of the line for SES events the SesEvents function failed on every receive); a redrive policy on it would only move failures one queue further. Its messages are kept 14 days and alarmed on, and are redriven by hand after the fix.',
    });
    // The subscription is created in the queue's scope.
    Validations.of(this.queue).acknowledge({
      id: 'Serverless-SNSRedrivePolicy',
      reason:
        'SNS retries a delivery to an SQS queue (an AWS-managed endpoint) for 23 days; only a client-side failure (the queue deleted, its policy or encryption broken) fails for good, which is a broken deployment: the NumberOfNotificationsFailed alarm on this topic reports it within five minutes, and a redeploy fixes it.',
    });

    const configurationSet = (id: string, settings: { name: string; suppressedReasons: readonly SuppressedReason[] }) => {
      const set = new ConfigurationSet(this, id, {
        configurationSetName: settings.name,
        reputationMetrics: true,
        sendingEnabled: true,
        suppressionReasons: suppressionReasonsOf(settings.suppressedReasons),
        tlsPolicy: ConfigurationSetTlsPolicy.OPTIONAL,
      });
      // The id predates the queue; kept so that deploying does not replace the event destinations.
      set.addEventDestination('ToWebhook', { destination: EventDestination.snsTopic(this.topic), events: PUBLISHED_EVENTS });
      return set;
    };
    this.newsletter = configurationSet('Newsletter', CONFIGURATION_SETS.newsletter);
    this.transactional = configurationSet('Transactional', CONFIGURATION_SETS.transactional);
  }
}
