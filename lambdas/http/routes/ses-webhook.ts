import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../../core/errors.ts';
import { handleSesEvent } from '../../core/subscribers/ses-events.ts';
import type { SubscriberDeps } from '../../core/subscribers/use-cases.ts';
import { isSnsSubscribeUrl, type SubscriptionConfirmer } from '../../adapters/sns/certificates.ts';
import type { SnsVerifier } from '../../adapters/sns/verify.ts';
import { newRouter } from '../router.ts';

export interface SesWebhookDeps {
  subscribers: SubscriberDeps;
  sns: SnsVerifier;
  confirmer: SubscriptionConfirmer;
  log?: ((msg: string, detail: unknown) => void) | undefined;
}

/** SNS messages are at most 256 KB; the JSON envelope adds a little. */
export const MAX_SNS_BODY_BYTES = 320 * 1024;

/**
 * `POST /ses`: SES bounce, complaint, delivery (and receiving) events delivered by SNS over HTTPS. Mount at
 * `/webhooks`. Nothing in a message is trusted, and nothing is written, before its signature, topic and
 * age are checked. Answers 2xx once a message is handled or known (SNS retries anything else).
 */
export function sesWebhookRoutes(deps: SesWebhookDeps) {
  const app = newRouter();
  const log = deps.log ?? deps.subscribers.log ?? ((m: string, d: unknown) => console.error(m, d));

  app.post(
    '/ses',
    bodyLimit({
      maxSize: MAX_SNS_BODY_BYTES,
      onError: () => {
        throw new AppError('request.tooLarge', `an SNS message is at most ${MAX_SNS_BODY_BYTES} bytes`);
      },
    }),
    async (c) => {
      // SNS posts JSON as text/plain; the content type is not a signal.
      const text = await c.req.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new AppError('sns.messageInvalid', 'the body is not JSON');
      }
      const headerType = c.req.header('x-amz-sns-message-type');
      const message = await deps.sns.verify(body);
      if (headerType && headerType !== message.Type) throw new AppError('sns.messageInvalid', 'x-amz-sns-message-type does not match the message');

      if (message.Type === 'SubscriptionConfirmation') {
        if (!message.SubscribeURL || !isSnsSubscribeUrl(message.SubscribeURL, message.region)) {
          throw new AppError('sns.messageInvalid', `SubscribeURL must be https://sns.${message.region}.amazonaws.com/?Action=ConfirmSubscription...`);
        }
        try {
          await deps.confirmer.confirm(message.SubscribeURL);
        } catch (cause) {
          throw new AppError('dependency.unavailable', 'could not confirm the SNS subscription; SNS will send the confirmation again', { cause });
        }
        log('confirmed the SNS subscription', { topic: message.TopicArn });
        return c.json({ status: 'subscribed' }, 200);
      }
      if (message.Type === 'UnsubscribeConfirmation') return c.json({ status: 'ignored' }, 200);

      let event: unknown;
      try {
        event = JSON.parse(message.Message);
      } catch {
        throw new AppError('sns.messageInvalid', 'the notification does not hold an SES event');
      }
      const result = await handleSesEvent(deps.subscribers, message.MessageId, event);
      return c.json(result, 200);
    },
  );

  return app;
}
