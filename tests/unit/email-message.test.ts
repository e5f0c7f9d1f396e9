import { describe, expect, it } from 'vitest';
import { formatListId, MailerInvalidMessageError, validateOutgoingEmail, type OutgoingEmail } from '../../lambdas/core/email/message.ts';
import { outgoingEmail } from '../support/email.ts';

const email = outgoingEmail;

const fieldOf = (e: OutgoingEmail) => {
  try {
    validateOutgoingEmail(e);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(MailerInvalidMessageError);
    return (err as MailerInvalidMessageError).field;
  }
};

describe('validateOutgoingEmail', () => {
  it('accepts a well-formed newsletter and a transactional email without List-* headers', () => {
    expect(fieldOf(email())).toBeUndefined();
    expect(fieldOf(email({ headers: undefined, messageStreamKind: 'transactional' }))).toBeUndefined();
    expect(fieldOf(email({ subject: 'Café — “quotes” 🎉', to: { name: 'Zoë', address: 'zoe@example.org' } }))).toBeUndefined();
  });

  it.each([
    ['to.name', { to: { name: 'Eve\r\nBcc: x@example.net', address: 'eve@example.org' } }],
    ['subject', { subject: 'a\nb' }],
    ['subject', { subject: 'a\u2028b' }],
    ['subject', { subject: 'nul\u0000' }],
    ['from.name', { from: { name: 'x\ry', address: 'news@news.example.com' } }],
    ['to.address', { to: { address: 'a@example.org, b@example.org' } }],
    ['to.address', { to: { address: 'Ada <ada@example.org>' } }],
    ['to.address', { to: { address: 'no-at-sign' } }],
    ['headers.listUnsubscribeUrl', { headers: { listUnsubscribeUrl: 'http://news.example.com/u', listId: 'N <news.example.com>' } }],
    ['headers.listUnsubscribeUrl', { headers: { listUnsubscribeUrl: 'https://news.example.com/u>, <https://evil.example', listId: 'N <news.example.com>' } }],
    ['headers.listUnsubscribeUrl', { headers: { listUnsubscribeUrl: 'https://news.example.com/désinscription', listId: 'N <news.example.com>' } }],
    [
      'headers.listUnsubscribeMailto',
      { headers: { listUnsubscribeUrl: 'https://news.example.com/u', listUnsubscribeMailto: 'u@news.example.com', listId: 'N <news.example.com>' } },
    ],
    ['headers.listId', { headers: { listUnsubscribeUrl: 'https://news.example.com/u', listId: 'no angle brackets' } }],
    ['headers', { headers: undefined }],
    ['text', { text: '  ' }],
    ['configurationSet', { configurationSet: '' }],
  ] as Array<[string, Partial<OutgoingEmail>]>)('refuses %s', (field, over) => {
    expect(fieldOf(email(over))).toBe(field);
  });
});

describe('formatListId', () => {
  it('builds `Name <id>` and drops characters that would break the header', () => {
    expect(formatListId('Thin Line News', 'news.example.com')).toBe('Thin Line News <news.example.com>');
    expect(formatListId('Evil <x>\r\nBcc: y', 'news.example.com')).toBe('Evil x Bcc: y <news.example.com>');
    expect(formatListId('', 'news.example.com')).toBe('<news.example.com>');
  });
});
