import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { MailerInvalidMessageError, validateOutgoingEmail, type OutgoingEmail } from '../../core/email/message.ts';

/** RFC 5322 2.1.1: a line, header lines included, must not exceed 998 characters. */
const MAX_HEADER_LINE = 998;

/** SES v1 SendRawEmail refuses messages over 10 MB. */
export const MAX_RAW_MESSAGE_BYTES = 10 * 1024 * 1024;

export interface BuildMimeOptions {
  /** Date header value. */
  date: Date;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/**
 * `Phrase <list.id>` with only the phrase MIME-encoded (RFC 2919 with RFC 2047). Left to nodemailer, a
 * non-ASCII phrase would pull `<list.id>` into the encoded word too, where no client looks for it.
 */
function encodeListId(listId: string): string {
  const at = listId.lastIndexOf('<');
  const phrase = listId.slice(0, at).trim();
  const id = listId.slice(at);
  if (!phrase) return id;
  // Non-ASCII or RFC 5322 specials: one encoded phrase (nodemailer would not quote the specials).
  const encoded = /[^\x20-\x7e]|[()<>@,;:\\"[\]]/.test(phrase) ? encodeWord(phrase, 'Q', 52) : phrase;
  return `${encoded} ${id}`;
}

/**
 * Text that holds something shaped like an RFC 2047 encoded word (`=?utf-8?q?Hi=0D=0A?=`). nodemailer
 * leaves ASCII text as it is (and only quotes a display name), and lenient readers decode such a word
 * wherever it stands, quoted or not, into whatever it encodes (CR LF, say). So such text goes out as
 * encoded words itself, and reads back exactly as written.
 */
const LOOKS_ENCODED = /=\?[^?\s]*\?[bq]\?[^?\s]*\?=/i;

/** `text` as Q encoded words, folded between words (each word is at most 52 characters). */
const encodedWords = (text: string) => encodeWord(text, 'Q', 52).split(' ').join('\r\n ');

/**
 * Builds the raw RFC 5322 message for an {@link OutgoingEmail}: multipart/alternative (text/plain, then
 * text/html), CRLF line endings throughout, non-ASCII header text as RFC 2047 encoded words, and the
 * List-* headers of RFC 2369/2919/8058 when the email carries them. Validates the email first, so a
 * header value with CR/LF is refused here rather than silently folded into a space by nodemailer.
 */
export async function buildMimeMessage(email: OutgoingEmail, options: BuildMimeOptions): Promise<Buffer> {
  validateOutgoingEmail(email);
  const headers: Record<string, string | { prepared: true; value: string }> = {};
  if (email.headers) {
    const targets = [`<${email.headers.listUnsubscribeUrl}>`];
    if (email.headers.listUnsubscribeMailto) targets.push(`<${email.headers.listUnsubscribeMailto}>`);
    // RFC 8058: the https target is what one-click clients POST to; the mailto is the fallback.
    // Kept on one line (`prepared`): a folded List-Unsubscribe is a known cause of DKIM failures and of
    // receivers that read the folding whitespace into the URL (nodemailer #1654, #1694). The values were
    // validated as printable ASCII without CR/LF, so nothing needs encoding.
    const value = targets.join(', ');
    if ('List-Unsubscribe: '.length + value.length > MAX_HEADER_LINE) {
      throw new MailerInvalidMessageError('headers.listUnsubscribeUrl', `the List-Unsubscribe line would exceed ${MAX_HEADER_LINE} characters`);
    }
    headers['List-Unsubscribe'] = { prepared: true, value };
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    // Already 7-bit: nodemailer passes valid encoded words through and only folds the line.
    headers['List-Id'] = encodeListId(email.headers.listId);
  }
  // Text shaped like an encoded word is written as encoded words (see LOOKS_ENCODED); the line is folded.
  if (LOOKS_ENCODED.test(email.subject)) headers.Subject = { prepared: true, value: encodedWords(email.subject) };
  const toName = email.to.name && LOOKS_ENCODED.test(email.to.name) ? email.to.name : undefined;
  const composer = new MailComposer({
    from: { name: email.from.name, address: email.from.address },
    to: email.to.name && !toName ? { name: email.to.name, address: email.to.address } : email.to.address,
    ...(email.replyTo ? { replyTo: email.replyTo.name ? { name: email.replyTo.name, address: email.replyTo.address } : email.replyTo.address } : {}),
    ...(headers.Subject ? {} : { subject: email.subject }),
    text: email.text,
    html: email.html,
    headers,
    date: options.date,
    // SES may replace it with its own; it still identifies the message in our outbox and in replies.
    messageId: `<${randomUUID()}@${domainOf(email.from.address)}>`,
    newline: 'windows',
    // The content is ours; never let a string that looks like a path or URL be read from disk or network.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const raw = await composer.compile().build();
  if (!toName) return raw;
  // nodemailer formats To: itself (a prepared value is not honoured there) and would only quote this
  // name: it wrote the bare address, and the encoded name goes in front of it.
  const text = raw.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = text.slice(0, headEnd).replace(/^To: <?([^\r\n<>]+)>?$/m, (_, address: string) => `To: ${encodedWords(toName)} <${address}>`);
  return Buffer.from(head + text.slice(headEnd), 'latin1');
}
