import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createEmailRenderer, type EmailRenderer } from '../../lambdas/core/email/templates.ts';
import { validateOutgoingEmail } from '../../lambdas/core/email/message.ts';
import { composeEmail, PreparedCache } from '../../lambdas/core/sends/content.ts';
import type { SendContent } from '../../lambdas/core/sends/model.ts';

const renderer = createEmailRenderer({
  templatesDir: join(import.meta.dirname, '..', '..', 'templates', 'email'),
  branding: { siteName: 'Thin Line News', siteUrl: 'https://news.example.com', postalAddress: '1 Main Street, Springfield' },
});
const mail = {
  from: { name: 'Thin Line News', address: 'news@news.example.com' },
  configurationSet: 'inkwire-newsletter',
  transactionalConfigurationSet: 'inkwire-transactional',
  listId: 'Thin Line News <news.example.com>',
};
const digest: SendContent = {
  kind: 'digest',
  period: 'daily',
  windowEnd: '2024-02-11T08:00:00.000Z',
  articles: [{ id: 'a1', title: 'Comet <seen>', summary: 'Bright.', url: 'https://news.example.com/a1/', publishedAt: '2024-02-11T07:00:00.000Z', tags: [] }],
};

describe('one email per recipient from one rendering per send', () => {
  it('personalises name and signed links, with List-Unsubscribe, List-Id and the send and subscriber tags', async () => {
    const prepared = await renderer.prepare('digest', { period: 'daily', articles: digest.kind === 'digest' ? digest.articles : [] });
    const links = (id: string) => ({
      unsubscribeUrl: `https://news.example.com/unsubscribe?token=${id}`,
      preferencesUrl: `https://news.example.com/preferences?token=${id}`,
      unsubscribeMailto: 'mailto:unsub@news.example.com?subject=unsubscribe%20x',
    });
    const email = composeEmail({ links, mail }, { id: 'send1', kind: 'digest', subject: undefined }, prepared, {
      id: 'sub1',
      email: 'ada@example.org',
      name: 'Ada',
    });
    expect(() => validateOutgoingEmail(email)).not.toThrow();
    expect(email.headers).toEqual({
      listUnsubscribeUrl: 'https://news.example.com/unsubscribe?token=sub1',
      listUnsubscribeMailto: 'mailto:unsub@news.example.com?subject=unsubscribe%20x',
      listId: 'Thin Line News <news.example.com>',
    });
    expect(email.tags).toEqual({ send_id: 'send1', subscriber_id: 'sub1', kind: 'digest' });
    expect(email.messageStreamKind).toBe('newsletter');
    expect(email.text).toContain('Hi Ada');
    expect(email.html).toContain('Comet &lt;seen&gt;');
    expect(email.html).toContain('token=sub1');
    const other = composeEmail({ links, mail }, { id: 'send1', kind: 'digest', subject: 'Custom subject' }, prepared, { id: 'sub2', email: 'bob@example.org' });
    expect(other.subject).toBe('Custom subject');
    expect(other.html).toContain('token=sub2');
    expect(other.html).not.toContain('token=sub1');
  });

  it('keeps the List-* headers for a local runtime on a loopback http URL, as production mail has them', async () => {
    const prepared = await renderer.prepare('digest', { period: 'daily', articles: digest.kind === 'digest' ? digest.articles : [] });
    const links = () => ({ unsubscribeUrl: 'http://localhost:3000/unsubscribe?token=x', preferencesUrl: 'http://localhost:3000/preferences?token=x' });
    const email = composeEmail({ links, mail }, { id: 'send1', kind: 'digest', subject: undefined }, prepared, { id: 'sub1', email: 'ada@example.org' });
    expect(email.headers).toMatchObject({ listUnsubscribeUrl: 'http://localhost:3000/unsubscribe?token=x' });
    expect(() => validateOutgoingEmail(email)).not.toThrow();
  });

  it('leaves the List-* headers out when the only unsubscribe link is plain http on a public host', async () => {
    const prepared = await renderer.prepare('digest', { period: 'daily', articles: digest.kind === 'digest' ? digest.articles : [] });
    const links = () => ({ unsubscribeUrl: 'http://news.example.com/unsubscribe?token=x', preferencesUrl: 'http://news.example.com/preferences?token=x' });
    const email = composeEmail({ links, mail }, { id: 'send1', kind: 'digest', subject: undefined }, prepared, { id: 'sub1', email: 'ada@example.org' });
    expect(email.headers).toBeUndefined();
    expect(() => validateOutgoingEmail(email)).not.toThrow();
    expect(email.text).toContain('http://news.example.com/unsubscribe?token=x');
  });

  it('renders each distinct digest once, however many recipients share it', async () => {
    let prepares = 0;
    const counting: EmailRenderer = {
      ...renderer,
      prepare: (name, data) => {
        prepares++;
        return renderer.prepare(name, data);
      },
    };
    const cache = new PreparedCache();
    const send = { id: 's', intro: undefined };
    const articles = digest.kind === 'digest' ? digest.articles : [];
    await Promise.all(Array.from({ length: 100 }, () => cache.get(counting, send, digest, articles)));
    await cache.get(counting, send, digest, []);
    expect(prepares).toBe(2);
  });
});
