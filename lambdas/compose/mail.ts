import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../core/clock.ts';
import type { SiteConfig } from '../core/site.ts';
import type { Mailer } from '../core/email/message.ts';
import { formatListId, listIdentifierFor } from '../core/email/message.ts';
import { createEmailRenderer, type EmailRenderer } from '../core/email/templates.ts';
import { createTokenSigner, type TokenSigner } from '../core/subscribers/tokens.ts';
import type { SubscriberDeps } from '../core/subscribers/use-cases.ts';
import { importDeps } from './import.ts';
import type { MailEnv } from '../config.ts';

/**
 * Assembly shared by the two composition roots (AWS and local): from validated configuration and the
 * adapters each root builds, the email and subscriber features. Nothing here reads the environment.
 */
export interface MailParts {
  mailer: Mailer;
  emails: EmailRenderer;
  signer: TokenSigner;
}

export function mailParts(env: MailEnv, site: SiteConfig, options: { mailer: Mailer; tokenSecret: string; templatesDir: string }): MailParts {
  return {
    mailer: options.mailer,
    signer: createTokenSigner(options.tokenSecret),
    emails: createEmailRenderer({
      templatesDir: `${options.templatesDir}/email`,
      branding: {
        siteName: site.title,
        siteUrl: site.siteUrl,
        logoUrl: site.logoUrl,
        postalAddress: env.POSTAL_ADDRESS,
        footerText: env.EMAIL_FOOTER_TEXT,
        language: site.language,
        ...(env.BRAND_ACCENT_COLOR ? { colors: { accent: env.BRAND_ACCENT_COLOR } } : {}),
      },
    }),
  };
}

export function subscriberDeps(
  env: MailEnv,
  site: SiteConfig,
  parts: MailParts,
  db: DynamoDBDocumentClient,
  table: string,
  clock: Clock,
  log?: (m: string, d: unknown) => void,
): SubscriberDeps {
  return {
    ...importDeps(env, db, table, clock),
    mailer: parts.mailer,
    emails: parts.emails,
    signer: parts.signer,
    site,
    mail: {
      from: { name: env.MAIL_FROM_NAME ?? site.title, address: env.MAIL_FROM },
      transactionalConfigurationSet: env.SES_CONFIGURATION_SET_TRANSACTIONAL,
      listId: formatListId(site.title, listIdentifierFor(site.siteUrl)),
      unsubscribeMailbox: env.UNSUBSCRIBE_MAILBOX,
    },
    log,
  };
}
