import type { SiteConfig } from '../site.ts';
import type { TokenSigner } from './tokens.ts';

/** How long the links in a newsletter email keep working: long enough for a mail read a year later. */
export const LINK_TTL_DAYS = 400;
/** How long a confirmation link works. */
export const CONFIRM_TTL_DAYS = 7;

const DAY_MS = 86_400_000;

/** The subject line of a mailto unsubscribe: the word, a space, the token. */
export const MAILTO_SUBJECT_PREFIX = 'unsubscribe ';

export interface SubscriberLinks {
  /** `GET` shows a page with one button; `POST` with `List-Unsubscribe=One-Click` unsubscribes at once (RFC 8058). */
  unsubscribeUrl: string;
  preferencesUrl: string;
  /** `mailto:<mailbox>?subject=unsubscribe%20<token>` when a mailbox receives unsubscribe mail. */
  unsubscribeMailto?: string;
}

/**
 * The per-recipient links of every email: unsubscribe and preferences pages, signed for this subscriber
 * and valid for {@link LINK_TTL_DAYS} days. The delivery engine calls this once per recipient.
 *
 * @example
 * ```ts
 * const links = subscriberLinks(site, signer, subscriber.id, clock.now(), 'unsubscribe@news.example.com');
 * // links.unsubscribeUrl === 'https://news.example.com/unsubscribe?token=...'
 * ```
 */
export function subscriberLinks(site: SiteConfig, signer: TokenSigner, subscriberId: string, now: Date, mailbox?: string): SubscriberLinks {
  const expiresAt = new Date(now.getTime() + LINK_TTL_DAYS * DAY_MS);
  const unsubscribe = signer.sign({ subscriberId, purpose: 'unsubscribe', expiresAt });
  const preferences = signer.sign({ subscriberId, purpose: 'preferences', expiresAt });
  return {
    unsubscribeUrl: `${site.publicUrl}/unsubscribe?token=${unsubscribe}`,
    preferencesUrl: `${site.publicUrl}/preferences?token=${preferences}`,
    ...(mailbox ? { unsubscribeMailto: `mailto:${mailbox}?subject=${encodeURIComponent(MAILTO_SUBJECT_PREFIX + unsubscribe)}` } : {}),
  };
}

/** The confirmation page link of a double opt-in, valid for {@link CONFIRM_TTL_DAYS} days. */
export function confirmationLink(site: SiteConfig, signer: TokenSigner, subscriberId: string, now: Date): string {
  const token = signer.sign({ subscriberId, purpose: 'confirm', expiresAt: new Date(now.getTime() + CONFIRM_TTL_DAYS * DAY_MS) });
  return `${site.publicUrl}/confirm?token=${token}`;
}

/** The token in the subject of a mailto unsubscribe (`unsubscribe <token>`, any case, `Re:` and such allowed). */
export function tokenFromMailtoSubject(subject: string): string | undefined {
  const m = /(?:^|\s)unsubscribe\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i.exec(subject.trim());
  return m?.[1];
}
