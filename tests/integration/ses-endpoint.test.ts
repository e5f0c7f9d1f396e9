import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetSendQuotaCommand, SendEmailCommand, SendRawEmailCommand, SESClient } from '@aws-sdk/client-ses';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { outboxMessagePaths, type OutboxSidecar } from '../../lambdas/local/outbox-store.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';
import { SesMailer } from '../../lambdas/adapters/ses/ses-mailer.ts';
import {
  MailerInvalidMessageError,
  MailerRejectedError,
  MailerThrottledError,
  MailerTransientError,
  formatListId,
  type OutgoingEmail,
} from '../../lambdas/core/email/message.ts';
import { createEmailRenderer } from '../../lambdas/core/email/templates.ts';
import { FixedClock } from '../../lambdas/core/clock.ts';
import { freePort } from '../../lambdas/local/dynamodb-local.ts';

const CONFIG_SETS = ['inkwire-newsletter', 'inkwire-transactional'];
const LONG_ONE_CLICK = `https://news.example.com/subscribers/one-click-unsubscribe?token=${'t0k3n'.repeat(24)}&sig=abcdef0123456789`;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const sesClient = (endpoint: string, maxAttempts = 1) => new SESClient({ endpoint, region: 'us-east-1', credentials, maxAttempts });

let ses: SesEndpoint;
let outboxDir: string;
let client: SESClient;
let mailer: SesMailer;

beforeAll(async () => {
  outboxDir = mkdtempSync(join(tmpdir(), 'inkwire-outbox-'));
  ses = await startSesEndpoint({ outboxDir, configurationSets: CONFIG_SETS, quota: { maxSendRate: 14, max24HourSend: 50_000 } });
  client = sesClient(ses.url);
  mailer = new SesMailer({ client, clock: new FixedClock('2024-02-11T10:00:00.000Z') });
});
afterAll(async () => {
  client?.destroy();
  await ses?.stop();
});
beforeEach(() => ses.setFaults({}));

const emlFiles = () => readdirSync(outboxDir, { recursive: true }).filter((f) => String(f).endsWith('.eml')).length;
const readEml = (messageId: string) => readFileSync(outboxMessagePaths(outboxDir, messageId).eml);
const readSidecar = (messageId: string) => JSON.parse(readFileSync(outboxMessagePaths(outboxDir, messageId).json, 'utf8')) as OutboxSidecar;

const newsletter = (over: Partial<OutgoingEmail> = {}): OutgoingEmail => ({
  from: { name: 'Thin Line News', address: 'news@news.example.com' },
  to: { name: 'Ada Lovelace', address: 'ada@example.org' },
  replyTo: { name: 'Editors', address: 'editors@news.example.com' },
  subject: 'Today on Thin Line News',
  html: '<!doctype html><html><body><p>Hello <b>Ada</b></p></body></html>',
  text: 'Hello Ada\n',
  headers: {
    listUnsubscribeUrl: 'https://news.example.com/u/one-click?t=tok_abc123',
    listUnsubscribeMailto: 'mailto:unsubscribe@news.example.com?subject=unsubscribe%20tok_abc123',
    listId: formatListId('Thin Line News', 'news.example.com'),
  },
  tags: { send: 'snd_01', subscriber: 'sub_42' },
  configurationSet: 'inkwire-newsletter',
  messageStreamKind: 'newsletter',
  ...over,
});

/** Everything Python's stdlib email package (policy=default) makes of a message, as JSON. */
function parseWithPython(path: string): {
  subject: string;
  from: string;
  to: string;
  replyTo: string;
  messageId: string;
  date: string;
  mimeVersion: string;
  listUnsubscribe: string;
  listUnsubscribePost: string;
  listId: string;
  contentType: string;
  parts: Array<{ type: string; charset: string | null; content: string }>;
  defects: string[];
} {
  const script = `
import sys, json, email
from email import policy
with open(sys.argv[1], 'rb') as f:
    msg = email.message_from_binary_file(f, policy=policy.default)
h = lambda n: None if msg[n] is None else str(msg[n])
parts = [{'type': p.get_content_type(), 'charset': p.get_content_charset(), 'content': p.get_content()} for p in msg.walk() if not p.is_multipart()]
defects = [repr(d) for p in msg.walk() for d in p.defects]
print(json.dumps({'subject': h('subject'), 'from': h('from'), 'to': h('to'), 'replyTo': h('reply-to'), 'messageId': h('message-id'),
  'date': h('date'), 'mimeVersion': h('mime-version'), 'listUnsubscribe': h('list-unsubscribe'), 'listUnsubscribePost': h('list-unsubscribe-post'),
  'listId': h('list-id'), 'contentType': msg.get_content_type(), 'parts': parts, 'defects': defects}))
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' }));
}

describe('local SES endpoint, driven by the unmodified SESClient', () => {
  it('SendRawEmail keeps the message byte for byte, with its custom headers, and a sidecar', async () => {
    const raw = Buffer.from(
      [
        'From: Thin Line News <news@news.example.com>',
        'To: ada@example.org',
        'Subject: Raw test',
        'Message-ID: <raw-1@news.example.com>',
        'List-Unsubscribe: <https://news.example.com/u/one-click?t=1>, <mailto:u@news.example.com>',
        'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
        'X-Inkwire-Test: kept',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Caf\u00e9 \u2014 bytes with + and / and = that base64 and form encoding must not mangle.',
        '',
      ].join('\r\n'),
      'utf8',
    );
    const out = await client.send(
      new SendRawEmailCommand({
        RawMessage: { Data: raw },
        Destinations: ['ada@example.org', 'bob@example.org'],
        ConfigurationSetName: 'inkwire-newsletter',
        Tags: [{ Name: 'send', Value: 'snd_01' }],
      }),
    );
    expect(out.MessageId).toMatch(/^[0-9a-f]{16}-[0-9a-f-]{36}-000000$/);
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const stored = readEml(out.MessageId!);
    expect(stored.equals(raw)).toBe(true);
    expect(stored.toString('utf8')).toContain('X-Inkwire-Test: kept\r\n');
    expect(readSidecar(out.MessageId!)).toMatchObject({
      messageId: out.MessageId,
      action: 'SendRawEmail',
      configurationSet: 'inkwire-newsletter',
      tags: { send: 'snd_01' },
      destinations: ['ada@example.org', 'bob@example.org'],
      subject: 'Raw test',
      bytes: raw.byteLength,
    });
  });

  it('SendRawEmail without Destinations takes the recipients from the To header', async () => {
    const raw = Buffer.from('From: a@news.example.com\r\nTo: "Ada" <ada@example.org>, carl@example.org\r\nSubject: x\r\n\r\nbody\r\n');
    const out = await client.send(new SendRawEmailCommand({ RawMessage: { Data: raw } }));
    expect(readSidecar(out.MessageId!).destinations).toEqual(['ada@example.org', 'carl@example.org']);
  });

  it('SendEmail composes a multipart/alternative message and stores it', async () => {
    const out = await client.send(
      new SendEmailCommand({
        Source: 'Thin Line News <news@news.example.com>',
        Destination: { ToAddresses: ['ada@example.org'] },
        Message: { Subject: { Data: 'Caf\u00e9 news', Charset: 'UTF-8' }, Body: { Text: { Data: 'Plain body' }, Html: { Data: '<p>HTML body</p>' } } },
        ConfigurationSetName: 'inkwire-transactional',
      }),
    );
    const msg = parseMessage(readEml(out.MessageId!));
    expect(msg.header('subject')).toBe('Caf\u00e9 news');
    expect(msg.text?.trim()).toBe('Plain body');
    expect(msg.html?.trim()).toBe('<p>HTML body</p>');
    expect(readSidecar(out.MessageId!)).toMatchObject({ action: 'SendEmail', destinations: ['ada@example.org'], configurationSet: 'inkwire-transactional' });
  });

  it('GetSendQuota reports the configured limits and the recipients sent in the last 24 hours', async () => {
    const before = await client.send(new GetSendQuotaCommand({}));
    expect(before.MaxSendRate).toBe(14);
    expect(before.Max24HourSend).toBe(50_000);
    await client.send(
      new SendRawEmailCommand({
        RawMessage: { Data: Buffer.from('From: a@news.example.com\r\nSubject: q\r\n\r\nx\r\n') },
        Destinations: ['a@example.org', 'b@example.org'],
      }),
    );
    const after = await mailer.getSendQuota();
    expect(after.sentLast24Hours).toBe(before.SentLast24Hours! + 2);
    expect(after).toMatchObject({ maxSendRate: 14, max24HourSend: 50_000 });
  });

  it('answers an unknown action with an SES error the SDK understands', async () => {
    const res = await fetch(ses.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=SendBulkTemplatedEmail&Version=2010-12-01',
    });
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain('<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">');
    expect(body).toMatch(/<Error>\s*<Type>Sender<\/Type>\s*<Code>InvalidAction<\/Code>/);
  });

  it('refuses tags SES would refuse', async () => {
    await expect(
      client.send(
        new SendRawEmailCommand({
          RawMessage: { Data: Buffer.from('From: a@news.example.com\r\nTo: b@example.org\r\n\r\nx') },
          Tags: [{ Name: 'bad name', Value: 'x' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });
});

describe('SesMailer against the local endpoint', () => {
  it('sends a rendered newsletter as CRLF multipart/alternative with List-* headers, readable by an independent parser', async () => {
    const renderer = createEmailRenderer({
      templatesDir: fileURLToPath(new URL('../../templates/email/', import.meta.url)),
      branding: { siteName: 'Thin Line News', siteUrl: 'https://news.example.com', postalAddress: '12 Harbour Street, Bristol BS1 4AB, UK' },
    });
    const rendered = await renderer.render('digest', {
      period: 'daily',
      articles: [
        {
          title: 'Café — “quotes” and naïveté',
          summary: 'A summary long enough to need a soft line break in quoted-printable encoding because it goes on and on.',
          url: 'https://news.example.com/a/1',
        },
      ],
      recipient: {
        name: 'Zoë',
        unsubscribeUrl: 'https://news.example.com/unsubscribe?t=tok_abc123',
        preferencesUrl: 'https://news.example.com/preferences?t=tok_abc123',
      },
    });
    const email = newsletter({
      ...rendered,
      to: { name: 'Zoë Ångström', address: 'zoe@example.org' },
      headers: { ...newsletter().headers!, listUnsubscribeUrl: LONG_ONE_CLICK, listId: formatListId('Thin Line News — Café', 'news.example.com') },
    });
    const { messageId } = await mailer.send(email);
    const path = outboxMessagePaths(outboxDir, messageId).eml;
    const raw = readFileSync(path);
    const text = raw.toString('latin1');

    expect(text).not.toMatch(/(?<!\r)\n/); // no bare LF
    expect(text).not.toMatch(/\r(?!\n)/); // no bare CR
    const head = `\r\n${text.slice(0, text.indexOf('\r\n\r\n'))}`;
    expect(head).not.toMatch(/[^\x00-\x7f]/); // every header is 7-bit: non-ASCII went into encoded words
    expect(head).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    // One line however long: folding it breaks DKIM verification at some receivers.
    expect(head).toContain(`\r\nList-Unsubscribe: <${LONG_ONE_CLICK}>, <mailto:unsubscribe@news.example.com?subject=unsubscribe%20tok_abc123>\r\n`);
    // Only the phrase is encoded; the list identifier stays outside the encoded word, where clients look for it.
    expect(head).toMatch(/\r\nList-Id: =\?UTF-8\?Q\?[^\r ]*\?= <news\.example\.com>\r\n/i);
    expect(head).toMatch(/\r\nMessage-ID: <[0-9a-f-]{36}@news\.example\.com>\r\n/);
    expect(head).toContain('\r\nDate: Sun, 11 Feb 2024 10:00:00 +0000\r\n');
    expect(head).toMatch(/\r\nContent-Type: multipart\/alternative;/);

    const py = parseWithPython(path);
    expect(py.defects).toEqual([]);
    expect(py.subject).toBe(rendered.subject);
    expect(py.to).toBe('Zoë Ångström <zoe@example.org>');
    expect(py.from).toBe('Thin Line News <news@news.example.com>');
    expect(py.replyTo).toBe('Editors <editors@news.example.com>');
    expect(py.mimeVersion).toBe('1.0');
    expect(py.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    expect(py.listUnsubscribe).toBe(`<${LONG_ONE_CLICK}>, <mailto:unsubscribe@news.example.com?subject=unsubscribe%20tok_abc123>`);
    expect(py.listId).toBe('Thin Line News — Café <news.example.com>');
    expect(py.contentType).toBe('multipart/alternative');
    expect(py.parts.map((p) => p.type)).toEqual(['text/plain', 'text/html']);
    expect(py.parts.every((p) => p.charset === 'utf-8')).toBe(true);
    expect(py.parts[0]!.content.replace(/\r\n/g, '\n')).toBe(rendered.text);
    expect(py.parts[1]!.content.replace(/\r\n/g, '\n')).toBe(rendered.html);
    expect(py.parts[1]!.content).toContain('Café — “quotes” and naïveté');

    expect(readSidecar(messageId)).toMatchObject({
      configurationSet: 'inkwire-newsletter',
      destinations: ['zoe@example.org'],
      tags: { stream: 'newsletter', send: 'snd_01', subscriber: 'sub_42' },
    });
  });

  it('encodes a non-ASCII subject as RFC 2047 words that decode back exactly', async () => {
    const subject = 'Café — “quotes” and a rather long subject line that has to be folded over several lines 🎉';
    const { messageId } = await mailer.send(newsletter({ subject }));
    const raw = readEml(messageId);
    const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
    const subjectField = /\r\nSubject: ([^\r]*(?:\r\n[ \t][^\r]*)*)/.exec(head)![1]!;
    expect(subjectField).toMatch(/^=\?UTF-8\?[QB]\?/i);
    expect(subjectField.split('\r\n').every((line) => line.length <= 78)).toBe(true);
    expect(parseMessage(raw).header('subject')).toBe(subject);
    expect(parseWithPython(outboxMessagePaths(outboxDir, messageId).eml).subject).toBe(subject);
  });

  it('sends transactional mail without List-* headers', async () => {
    const { messageId } = await mailer.send(newsletter({ headers: undefined, messageStreamKind: 'transactional', configurationSet: 'inkwire-transactional' }));
    const head = readEml(messageId).toString('latin1').split('\r\n\r\n')[0]!;
    expect(head).not.toMatch(/^List-/im);
    expect(readSidecar(messageId).tags.stream).toBe('transactional');
  });

  it('sanitises message tags to what SES accepts', async () => {
    const { messageId } = await mailer.send(newsletter({ tags: { 'send id': 'snd/01:x', subscriber: 'ada@example.org' } }));
    expect(readSidecar(messageId).tags).toEqual({ stream: 'newsletter', send_id: 'snd_01_x', subscriber: 'ada_example_org' });
  });

  it('refuses CR/LF in any header value before anything is sent', async () => {
    const before = ses.stats();
    const files = emlFiles();
    const attempts: Array<[string, Partial<OutgoingEmail>]> = [
      ['to.name', { to: { name: 'Eve\r\nBcc: victim@example.net', address: 'eve@example.org' } }],
      ['subject', { subject: 'Hello\nBcc: victim@example.net' }],
      ['from.name', { from: { name: 'News\r', address: 'news@news.example.com' } }],
      ['replyTo.address', { replyTo: { address: 'x@example.org\r\nX-Injected: 1' } }],
      ['headers.listId', { headers: { listUnsubscribeUrl: 'https://news.example.com/u', listId: 'News <news.example.com>\r\nBcc: v@example.net' } }],
    ];
    for (const [field, over] of attempts) {
      const error = await mailer.send(newsletter(over)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, field).toBeInstanceOf(MailerInvalidMessageError);
      expect(error, field).toBeInstanceOf(MailerRejectedError);
      expect((error as MailerInvalidMessageError).field).toBe(field);
      expect((error as Error).message).toMatch(/line breaks|header injection/);
    }
    expect(ses.stats()).toEqual(before);
    expect(emlFiles()).toBe(files);
  });

  it('refuses a non-https one-click URL and a newsletter without List-* headers', async () => {
    await expect(mailer.send(newsletter({ headers: { listUnsubscribeUrl: 'http://news.example.com/u', listId: 'N <news.example.com>' } }))).rejects.toThrow(
      /https/,
    );
    await expect(mailer.send(newsletter({ headers: undefined }))).rejects.toThrow(MailerInvalidMessageError);
    await expect(mailer.send(newsletter({ to: { address: 'a@example.org, b@example.org' } }))).rejects.toThrow(/single email address/);
  });

  it('surfaces Throttling as MailerThrottledError and stores nothing (fault injected: throttleShare 1)', async () => {
    ses.setFaults({ throttleShare: 1 });
    const files = emlFiles();
    const before = ses.stats();
    const error = await mailer.send(newsletter()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MailerThrottledError);
    expect(error).toMatchObject({ retryable: true, reason: 'rate', code: 'Throttling' });
    expect((error as Error).message).toContain('Maximum sending rate exceeded');
    expect(emlFiles()).toBe(files);
    expect(ses.stats()).toMatchObject({
      throttled: before.throttled + 1,
      throttledInjected: before.throttledInjected + 1,
      throttledRate: 0,
      throttledDailyQuota: 0,
    });
  });

  it('throttles the configured share of calls (fault injected: throttleShare 0.5, fixed random sequence)', async () => {
    const rolls = [0.1, 0.9, 0.4, 0.6];
    let i = 0;
    ses.setFaults({ throttleShare: 0.5, random: () => rolls[i++ % rolls.length]! });
    const outcomes: string[] = [];
    for (let n = 0; n < 4; n++)
      outcomes.push(
        await mailer.send(newsletter()).then(
          () => 'sent',
          (e: unknown) => (e instanceof MailerThrottledError ? 'throttled' : 'other'),
        ),
      );
    expect(outcomes).toEqual(['throttled', 'sent', 'throttled', 'sent']);
  });

  it('changes faults at runtime through the control route', async () => {
    const res = await fetch(`${ses.url}/_inkwire/faults`, { method: 'POST', body: JSON.stringify({ throttleShare: 1 }) });
    expect(res.status).toBe(204);
    await expect(mailer.send(newsletter())).rejects.toThrow(MailerThrottledError);
    await fetch(`${ses.url}/_inkwire/faults`, { method: 'POST', body: JSON.stringify({ throttleShare: 0 }) });
    await expect(mailer.send(newsletter())).resolves.toHaveProperty('messageId');
  });

  it('maps an unknown configuration set to a rejection that affects every message', async () => {
    const error = await mailer.send(newsletter({ configurationSet: 'no-such-set' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MailerRejectedError);
    expect(error).toMatchObject({ code: 'ConfigurationSetDoesNotExist', retryable: false, affectsAllMessages: true });
  });

  it('reports the daily quota as throttling with reason dailyQuota', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inkwire-outbox-quota-'));
    const small = await startSesEndpoint({ outboxDir: dir, quota: { max24HourSend: 1 } });
    const c = sesClient(small.url);
    try {
      const m = new SesMailer({ client: c });
      await m.send(newsletter());
      const error = await m.send(newsletter()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MailerThrottledError);
      expect(error).toMatchObject({ reason: 'dailyQuota' });
      expect((error as MailerThrottledError).retryAfterMs).toBeGreaterThanOrEqual(60_000);
      expect(small.stats()).toMatchObject({ accepted: 1, throttled: 1, throttledDailyQuota: 1, throttledRate: 0, sentLast24Hours: 1 });
    } finally {
      c.destroy();
      await small.stop();
    }
  });

  it('maps a refused connection to MailerTransientError', async () => {
    const c = sesClient(`http://127.0.0.1:${await freePort()}`);
    try {
      const error = await new SesMailer({ client: c }).send(newsletter()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MailerTransientError);
      expect(error).toMatchObject({ retryable: true });
    } finally {
      c.destroy();
    }
  });
});
