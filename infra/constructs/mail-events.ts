import {
  ConfigurationSet,
  ConfigurationSetTlsPolicy,
  EmailSendingEvent,
  EventDestination,
  SuppressionReasons,
} from 'aws-cdk-lib/aws-ses';
import { SubscriptionProtocol, Topic } from 'aws-cdk-lib/aws-sns';
import { UrlSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Configuration set names; the functions receive them as SES_CONFIGURATION_SET_NEWSLETTER/_TRANSACTIONAL. */
export const CONFIGURATION_SET_NAMES = { newsletter: 'newsletter', transactional: 'transactional' } as const;

/** What SES reports about each message; the webhook records deliveries and suppresses bounces and complaints. */
export const PUBLISHED_EVENTS = [
  EmailSendingEvent.BOUNCE,
  EmailSendingEvent.COMPLAINT,
  EmailSendingEvent.REJECT,
  EmailSendingEvent.DELIVERY,
];

export interface MailEventsProps {
  /** `https://<domain>/webhooks/ses`: the API verifies each SNS message's signature itself. */
  webhookUrl: string;
}

/**
 * The two SES configuration sets (newsletters apart from transactional mail, so each has its own
 * reputation metrics and a newsletter problem cannot pause confirmation emails) and the SNS topic
 * that carries their events to the webhook.
 */
export class MailEvents extends Construct {
  readonly topic: Topic;
  readonly newsletter: ConfigurationSet;
  readonly transactional: ConfigurationSet;

  constructor(scope: Construct, id: string, props: MailEventsProps) {
    super(scope, id);

    this.topic = new Topic(this, 'EventsTopic', { displayName: 'Inkwire SES events', enforceSSL: true });
    // Raw delivery off: the webhook needs the SNS envelope (Signature, SigningCertURL) to verify messages.
    this.topic.addSubscription(new UrlSubscription(props.webhookUrl, { protocol: SubscriptionProtocol.HTTPS, rawMessageDelivery: false }));

    const configurationSet = (id: string, name: string) => {
      const set = new ConfigurationSet(this, id, {
        configurationSetName: name,
        reputationMetrics: true,
        sendingEnabled: true,
        suppressionReasons: SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        tlsPolicy: ConfigurationSetTlsPolicy.OPTIONAL,
      });
      set.addEventDestination('ToWebhook', { destination: EventDestination.snsTopic(this.topic), events: PUBLISHED_EVENTS });
      return set;
    };
    this.newsletter = configurationSet('Newsletter', CONFIGURATION_SET_NAMES.newsletter);
    this.transactional = configurationSet('Transactional', CONFIGURATION_SET_NAMES.transactional);
  }
}
