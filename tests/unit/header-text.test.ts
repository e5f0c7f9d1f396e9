/**
 * Text that ends up in a mail header: the API refuses what the mailer cannot send, by the mailer's own
 * rule, and text shaped like an RFC 2047 encoded word reads back as written.
 */
import { describe, expect, it } from 'vitest';
import { emailAddressProblem, headerTextProblem, validateOutgoingEmail, type OutgoingEmail } from '../../lambdas/core/email/message.ts';
import { SendRequestSchema, TestRequestSchema } from '../../lambdas/core/sends/schema.ts';
import { ArticleInputSchema } from '../../lambdas/core/articles/schema.ts';
import { EmailSchema, NameSchema, SubscribeInputSchema } from '../../lambdas/core/subscribers/schema.ts';
import { buildMimeMessage } from '../../lambdas/adapters/ses/mime.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';
import { outgoingEmail } from '../support/email.ts';

const email = outgoingEmail;

const mailerAccepts = (subject: string) => {
  try {
    validateOutgoingEmail(email({ subject }));
    return true;
  } catch {
    return false;
  }
};

// Every C0 and C1 control, DEL, the Unicode line and paragraph separators, and a few ordinary characters.
const SPECIALS = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  0x7f,
  ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
  0x2028,
  0x2029,
  0xfffd,
  0x41,
  0xe9,
].map((c) => String.fromCodePoint(c));

describe('one header rule for the API and the mailer', () => {
  it('refuses a send subject with U+0085 (NEL), which the mailer refuses for every recipient', () => {
    const r = SendRequestSchema.safeParse({ kind: 'digest', frequency: 'daily', subject: 'Hi\u0085there' });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toEqual(['subject']);
    expect(headerTextProblem('Hi\u0085there')).toMatch(/line breaks/);
  });

  it('a send subject, an article title and a subscriber name are refused whenever the mailer would refuse the header', () => {
    for (const ch of SPECIALS) {
      const text = `Hello${ch}world`;
      const label = `U+${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`;
      if (mailerAccepts(text)) continue;
      expect(SendRequestSchema.safeParse({ kind: 'digest', frequency: 'daily', subject: text }).success, `subject ${label}`).toBe(false);
      expect(ArticleInputSchema.safeParse({ title: text, body: 'b' }).success, `title ${label}`).toBe(false);
      expect(NameSchema.safeParse(text).success, `name ${label}`).toBe(false);
    }
  });

  it('still accepts ordinary text, and one message per problem', () => {
    expect(SendRequestSchema.safeParse({ kind: 'digest', frequency: 'daily', subject: 'Caf\u00e9 \ufffd news' }).success).toBe(true);
    const twoLines = SendRequestSchema.safeParse({ kind: 'digest', frequency: 'daily', subject: 'a\nb' });
    expect(twoLines.error!.issues.map((i) => i.message)).toEqual(['must be one line']);
  });
});

describe('text shaped like an RFC 2047 encoded word', () => {
  const trap = '=?utf-8?q?Hi=0D=0ABcc:_victim@example.com?=';
  const build = async (over: Partial<OutgoingEmail>) => {
    const raw = await buildMimeMessage(email(over), { date: new Date('2026-01-01T00:00:00Z') });
    const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
    return { parsed: parseMessage(raw), head };
  };

  it('goes into Subject: encoded, and reads back as written (no CR LF) with a lenient decoder', async () => {
    for (const subject of [trap, `News: ${trap} and more`, `${'Long title '.repeat(25)}${trap}`]) {
      const { parsed, head } = await build({ subject });
      expect(parsed.header('subject')).toBe(subject);
      expect(head).not.toContain(trap);
      for (const line of head.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    }
  });

  it('goes into To: as an encoded display name, and reads back as written', async () => {
    const { parsed, head } = await build({ to: { name: trap, address: 'ada@example.org' } });
    expect(head).not.toContain(trap);
    expect(parsed.header('to')).toBe(`${trap} <ada@example.org>`);
  });

  it('leaves ordinary text as nodemailer writes it', async () => {
    const { parsed, head } = await build({ subject: 'Plain news', to: { name: 'Ada Lovelace', address: 'ada@example.org' } });
    expect(head).toContain('\r\nSubject: Plain news\r\n');
    expect(parsed.header('to')).toBe('Ada Lovelace <ada@example.org>');
  });
});

describe('email addresses: one rule for every way in and for the mailer', () => {
  const mailerRefuses = (address: string) => {
    try {
      validateOutgoingEmail(email({ to: { address } }));
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const refused: [string, RegExp][] = [
    ['a@b.c\u202e', /bidirectional-text control \(U\+202E\)/],
    ['a\u202a@b.example', /bidirectional-text control \(U\+202A\)/],
    ['a@b\u2066.example', /bidirectional-text control \(U\+2066\)/],
    ['a@b.example\u200f', /bidirectional-text control \(U\+200F\)/],
    ['a@b\u200e.example', /bidirectional-text control \(U\+200E\)/],
    ['a\ufffd@b.example', /replacement character .*U\+FFFD/],
    ['a@b\u200b.example', /invisible or control character \(U\+200B\)/],
    ['a@b.example\u0085', /line breaks|invisible or control character/],
    ['jos\u00e9@example.com', /part before @ must be ASCII .*SMTPUTF8/],
    ['a@b\u2603.example', /domain must be a domain name/],
  ];

  it('refuses bidi controls, U+FFFD, other invisible characters and non-ASCII local parts, saying which', () => {
    for (const [address, message] of refused) {
      const r = EmailSchema.safeParse(address);
      expect(r.success, address).toBe(false);
      expect(
        r.error!.issues.map((i) => i.message),
        address,
      ).toEqual([expect.stringMatching(message)]);
      expect(emailAddressProblem(address) ?? headerTextProblem(address), address).toBeDefined();
      expect(mailerRefuses(address), address).toBeDefined();
      // The other ways in share the schema.
      expect(SubscribeInputSchema.safeParse({ email: address }).success, address).toBe(false);
      expect(TestRequestSchema.safeParse({ kind: 'digest', frequency: 'daily', addresses: ['ok@example.com', address] }).success, address).toBe(false);
    }
  });

  it('accepts an internationalised domain, which the mailer sends in its A-label form', async () => {
    expect(EmailSchema.safeParse('ada@b\u00fccher.example').success).toBe(true);
    expect(mailerRefuses('ada@b\u00fccher.example')).toBeUndefined();
    const raw = (await buildMimeMessage(email({ to: { address: 'ada@b\u00fccher.example' } }), { date: new Date() })).toString('latin1');
    expect(raw).toMatch(/\r\nTo: ada@xn--bcher-kva\.example\r\n/);
    for (const ok of ['ada@example.com', 'A.B+news@Example.org', "o'brien@example.ie"]) expect(EmailSchema.safeParse(ok).success, ok).toBe(true);
  });
});
