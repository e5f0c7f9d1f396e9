import { DeleteSuppressedDestinationCommand, PutSuppressedDestinationCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import type { ProviderSuppressions } from '../../core/subscribers/ports.ts';

/**
 * SES's account-level suppression list (SES v2 API: PutSuppressedDestination, DeleteSuppressedDestination).
 * SES refuses to deliver to an address on it from any configuration set of the account, and reports such a
 * send as a bounce (`OnAccountSuppressionList`).
 */
export class SesSuppressionList implements ProviderSuppressions {
  constructor(private readonly client: SESv2Client) {}

  async add(email: string, reason: 'bounce' | 'complaint'): Promise<void> {
    await this.client.send(new PutSuppressedDestinationCommand({ EmailAddress: email, Reason: reason === 'bounce' ? 'BOUNCE' : 'COMPLAINT' }));
  }

  async remove(email: string): Promise<void> {
    try {
      await this.client.send(new DeleteSuppressedDestinationCommand({ EmailAddress: email }));
    } catch (e) {
      if ((e as { name?: string }).name === 'NotFoundException') return;
      throw e;
    }
  }
}
