/**
 * What a send says: frozen once when planning starts (so a resume renders the same mail), rendered once
 * per distinct content (Liquid and CSS inlining run once; each recipient costs a string splice).
 */
import { AppError } from '../errors.ts';
import { isOneClickUrl, type OutgoingEmail } from '../email/message.ts';
import type { EmailRenderer, PreparedEmail } from '../email/templates.ts';
import { DIGEST_LOOKBACK_MS, variantKey } from './audience.ts';
import type { DeliveryDeps, SendDeps } from './deps.ts';
import type { DigestCandidate, NewSend, Recipient, Send, SendContent } from './model.ts';

/** How many of the site's newest entries a digest considers. */
const DIGEST_CANDIDATES = 200;

/**
 * Freezes what the send will say. An article send needs the article still published (a preview or a
 * test send, `draft: true`, takes a draft or scheduled one too, so the publisher sees the email before it
 * goes out); a digest takes the site's articles published in its window (up to `windowEnd`, back to the
 * lookback limit), narrowed to the send's topics.
 * @throws AppError `send.articleNotPublished`
 */
export async function buildContent(
  deps: Pick<SendDeps, 'articles' | 'feed'>,
  send: Pick<Send | NewSend, 'kind' | 'articleId' | 'topics' | 'frequency' | 'windowEnd' | 'createdAt' | 'importId'>,
  options: { draft?: boolean } = {},
): Promise<SendContent> {
  if (send.kind === 'confirmation') return { kind: 'confirmation', importId: send.importId };
  if (send.kind === 'article') {
    const a = send.articleId ? await deps.articles.get(send.articleId) : undefined;
    if (!a || (a.status !== 'published' && !options.draft)) {
      throw new AppError(
        'send.articleNotPublished',
        `article ${send.articleId ?? '(none)'} is ${a ? `${a.status}, not published` : 'gone'}; only a published article can be sent (a preview or a test send takes a draft or scheduled one)`,
      );
    }
    return {
      kind: 'article',
      article: {
        id: a.id,
        title: a.title,
        url: a.url,
        contentHtml: a.contentHtml,
        summary: a.summary,
        byline: a.authors.length ? `By ${a.authors.map((p) => p.name).join(', ')}` : undefined,
        publishedAt: a.publishedAt,
        // The topics a subscriber must share with the send: the publisher's choice, else the article's tags.
        tags: send.topics?.length ? send.topics : a.tags.map((t) => t.slug),
      },
    };
  }
  const period = send.frequency === 'weekly' ? 'weekly' : 'daily';
  const windowEnd = send.windowEnd ?? send.createdAt;
  const floor = new Date(new Date(windowEnd).getTime() - DIGEST_LOOKBACK_MS[period]).toISOString();
  const refs = (await deps.feed.newest('site', DIGEST_CANDIDATES)).filter((r) => r.publishedAt <= windowEnd && r.publishedAt > floor);
  const found = await deps.feed.articles(refs.map((r) => r.articleId));
  const articles: DigestCandidate[] = [];
  for (const ref of refs) {
    const a = found.get(ref.articleId);
    if (a?.status !== 'published' || !a.publishedAt) continue;
    const tags = a.tags.map((t) => t.slug);
    if (send.topics?.length && !send.topics.some((t) => tags.includes(t))) continue;
    articles.push({ id: a.id, title: a.title, summary: a.summary, url: a.url, publishedAt: a.publishedAt, tags });
  }
  articles.sort((x, y) => (x.publishedAt < y.publishedAt ? 1 : x.publishedAt > y.publishedAt ? -1 : x.id < y.id ? 1 : -1));
  return { kind: 'digest', period, windowEnd, articles };
}

/** Renders each distinct content of a send once and keeps it (bounded) for the process's later batches. */
export class PreparedCache {
  private readonly entries = new Map<string, Promise<PreparedEmail>>();
  constructor(private readonly max = 200) {}

  get(
    renderer: EmailRenderer,
    send: Pick<Send, 'id' | 'intro'>,
    content: SendContent,
    articles: readonly DigestCandidate[] | undefined,
  ): Promise<PreparedEmail> {
    const key = `${send.id}|${variantKey(articles)}`;
    let hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    hit =
      content.kind === 'confirmation'
        ? renderer.prepare('confirm', {})
        : content.kind === 'article'
          ? renderer.prepare('article', { article: content.article })
          : renderer.prepare('digest', {
              period: content.period,
              articles: (articles ?? content.articles).map((a) => ({ title: a.title, summary: a.summary, url: a.url, publishedAt: a.publishedAt })),
              intro: send.intro,
            });
    hit.catch(() => this.entries.delete(key));
    this.entries.set(key, hit);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return hit;
  }
}

/**
 * One recipient's email: the prepared content with their name and signed links spliced in. A
 * confirmation request carries their confirmation link instead, goes through the transactional
 * configuration set and has no newsletter headers (they have not subscribed yet), like the confirmation
 * mail of the public form.
 */
export function composeEmail(
  deps: Pick<DeliveryDeps, 'links' | 'mail'> & Partial<Pick<DeliveryDeps, 'confirmLinks'>>,
  send: Pick<Send, 'id' | 'kind' | 'subject'>,
  prepared: PreparedEmail,
  to: { id: string; email: string; name?: string | undefined },
): OutgoingEmail {
  let rendered: ReturnType<PreparedEmail['personalise']>;
  let newsletter: OutgoingEmail['headers'];
  if (send.kind === 'confirmation') {
    if (!deps.confirmLinks) throw new Error('confirmation sends need confirmation links');
    rendered = prepared.personalise({ name: to.name, confirmUrl: deps.confirmLinks(to.id) });
  } else {
    const links = deps.links(to.id);
    rendered = prepared.personalise({ name: to.name, unsubscribeUrl: links.unsubscribeUrl, preferencesUrl: links.preferencesUrl });
    // RFC 8058 one-click unsubscribe needs an https URL (or a loopback one locally). Served anywhere else
    // over plain http, mail goes without the List-* headers (the link in the body still works) and is not
    // marked as newsletter mail, which the Mailer only accepts with them.
    if (isOneClickUrl(links.unsubscribeUrl))
      newsletter = { listUnsubscribeUrl: links.unsubscribeUrl, listUnsubscribeMailto: links.unsubscribeMailto, listId: deps.mail.listId };
  }
  return {
    from: deps.mail.from,
    replyTo: deps.mail.replyTo,
    to: { name: to.name, address: to.email },
    subject: send.subject ?? rendered.subject,
    html: rendered.html,
    text: rendered.text,
    headers: newsletter,
    // SES events carry these back, so a bounce or complaint maps to its delivery.
    tags: { send_id: send.id, subscriber_id: to.id, kind: send.kind === 'confirmation' ? 'confirm' : send.kind },
    configurationSet: send.kind === 'confirmation' ? deps.mail.transactionalConfigurationSet : deps.mail.configurationSet,
    messageStreamKind: newsletter ? 'newsletter' : 'transactional',
  };
}

/** A stand-in subscriber for previews and test sends: no topics, confirmed long ago, so they get everything. */
export function sampleRecipient(address = 'reader@example.com', name?: string): Recipient {
  return {
    id: 'preview',
    email: address,
    emailHash: '',
    name,
    status: 'confirmed',
    frequency: 'instant',
    topics: [],
    paused: false,
    confirmedAt: '1970-01-01T00:00:00.000Z',
  };
}
