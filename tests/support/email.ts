import type { OutgoingEmail } from '../../lambdas/core/email/message.ts';

/** A well-formed newsletter email, as the send engine hands it to the mailer; `over` changes what a test looks at. */
export const outgoingEmail = (over: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  from: { name: 'Thin Line News', address: 'news@news.example.com' },
  to: { name: 'Ada', address: 'ada@example.org' },
  subject: 'Today',
  html: '<p>x</p>',
  text: 'x',
  headers: {
    listUnsubscribeUrl: 'https://news.example.com/u?t=1',
    listUnsubscribeMailto: 'mailto:u@news.example.com',
    listId: 'Thin Line News <news.example.com>',
  },
  tags: {},
  configurationSet: 'inkwire-newsletter',
  messageStreamKind: 'newsletter',
  ...over,
});
