import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { XMLParser } from 'fast-xml-parser';
import { freshTable } from '../support/dynamo.ts';
import { outboxByRecipient, publisherOf, seedSubscribers, startDeliveryPipeline, TEST_SITE, waitForSend, type Pipeline } from '../support/delivery-harness.ts';
import { startSesEndpoint, type SesEndpoint } from '../../lambdas/local/ses-endpoint.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';
import { createSend } from '../../lambdas/core/sends/use-cases.ts';
import { createDigestHandler } from '../../lambdas/handlers/digest.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';
import type { Send } from '../../lambdas/core/sends/model.ts';

const HOUR = 3_600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe('daily digests through the local pipeline', () => {
  let dir: string;
  let ses: SesEndpoint;
  let pipeline: Pipeline;
  let table: Awaited<ReturnType<typeof freshTable>>;
  let first: Promise<{ status: string; send: Send; mail: Awaited<ReturnType<typeof texts>> }> | undefined;

  /** Text part of each recipient's messages. */
  async function texts(): Promise<Map<string, { subject: string; text: string }[]>> {
    const out = new Map<string, { subject: string; text: string }[]>();
    for (const day of await readdir(ses.outboxDir)) {
      for (const f of (await readdir(join(ses.outboxDir, day))).filter((x) => x.endsWith('.eml'))) {
        const msg = parseMessage(await readFile(join(ses.outboxDir, day, f)));
        const to = /<([^>]+)>|(\S+@\S+)/.exec(msg.header('to') ?? '')!;
        const address = to[1] ?? to[2]!;
        out.set(address, [...(out.get(address) ?? []), { subject: msg.header('subject') ?? '', text: msg.text ?? '' }]);
      }
    }
    return out;
  }

  /**
   * The first daily digest of the seeded audience, run by whichever test needs it first (so each test
   * also runs alone) and once for all of them. `mail` is the daily digests in the outbox when it completed.
   */
  function firstDigest() {
    first ??= (async () => {
      const started = await createDigestHandler(pipeline.deps)({ frequency: 'daily' });
      const send = await waitForSend(pipeline.deps.sends, started.id, (s) => s.status === 'completed');
      const mail = new Map(
        [...(await texts())].map(([to, msgs]) => [to, msgs.filter((m) => /your daily digest/.test(m.subject))] as const).filter(([, msgs]) => msgs.length > 0),
      );
      return { status: started.status, send, mail };
    })();
    return first;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inkwire-digest-'));
    table = await freshTable('digest');
    ses = await startSesEndpoint({ outboxDir: join(dir, 'outbox') });
    pipeline = await startDeliveryPipeline({ dynamoEndpoint: table.endpoint, tableName: table.tableName, sesUrl: ses.url, dataDir: join(dir, 'data') });
    const publish = publisherOf(table.doc, table.tableName);
    await publish('Too old for any digest', ago(40 * 24 * HOUR), []);
    await publish('Comet seen', ago(30 * HOUR), ['Science']);
    await publish('Budget passes', ago(10 * HOUR), ['Politics']);
    await publish('Harbour reopens', ago(2 * HOUR), []);
    await seedSubscribers(table.doc, table.tableName, [
      { id: 'regular', frequency: 'daily', name: 'Regular Reader', confirmedAt: ago(60 * 24 * HOUR), lastDigestAt: { daily: ago(24 * HOUR) } },
      { id: 'newcomer', frequency: 'daily', confirmedAt: ago(5 * HOUR) },
      { id: 'scientist', frequency: 'daily', topics: ['science'], confirmedAt: ago(90 * 24 * HOUR), lastDigestAt: { daily: ago(48 * HOUR) } },
      { id: 'caughtup', frequency: 'daily', topics: ['politics'], confirmedAt: ago(90 * 24 * HOUR), lastDigestAt: { daily: ago(1 * HOUR) } },
      { id: 'longago', frequency: 'daily', confirmedAt: ago(60 * 24 * HOUR) },
      { id: 'weekly', frequency: 'weekly', confirmedAt: ago(60 * 24 * HOUR) },
    ]);
    await pipeline.idle();
  });

  afterAll(async () => {
    await pipeline?.stop();
    await ses?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each subscriber the articles since their own last digest, filtered by their topics, and nobody an empty one', async () => {
    const { status, send, mail } = await firstDigest();
    expect(status).toBe('pending');
    expect(send.counts).toEqual({ planned: 5, submitted: 4, failed: 0, suppressed: 0, skipped: 1, uncertain: 0 });

    expect([...mail.keys()].sort()).toEqual(['longago@example.org', 'newcomer@example.org', 'regular@example.org', 'scientist@example.org']);
    const titles = (address: string) =>
      ['Too old for any digest', 'Comet seen', 'Budget passes', 'Harbour reopens'].filter((t) => mail.get(address)![0]!.text.includes(t));
    expect(titles('regular@example.org')).toEqual(['Budget passes', 'Harbour reopens']);
    expect(titles('newcomer@example.org')).toEqual(['Harbour reopens']);
    expect(titles('scientist@example.org')).toEqual(['Comet seen']);
    // Confirmed two months ago, never had a digest: the lookback keeps last month's archive out.
    expect(titles('longago@example.org')).toEqual(['Comet seen', 'Budget passes', 'Harbour reopens']);
    expect(mail.get('regular@example.org')![0]!.subject).toBe('Thin Line News: your daily digest (2 new articles)');
    expect(mail.get('regular@example.org')![0]!.text).toContain('Hi Regular Reader');
  });

  it('moves the digest date to the digest\u2019s window end for those who got it, and only for them, without touching the subscriber item', async () => {
    const { send } = await firstDigest();
    const last = async (id: string) =>
      (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: keys.subscriberDigests(id), ConsistentRead: true }))).Item?.daily as
        | string
        | undefined;
    expect(await last('regular')).toBe(send.windowEnd);
    expect(await last('newcomer')).toBe(send.windowEnd);
    expect(await last('caughtup')).not.toBe(send.windowEnd);
    const regular = (await table.doc.send(new GetCommand({ TableName: table.tableName, Key: keys.subscriber('regular'), ConsistentRead: true }))).Item;
    expect(regular).toMatchObject({ version: 1 });
    expect(regular?.lastDigestAt).toBeUndefined();
  });

  it('publishes the digest on the web archive, without personal links, with its own feeds', async () => {
    const digestId = (await firstDigest()).send.id;
    // Written once the completed send's stream record reaches the planner.
    const send = await waitForSend(pipeline.deps.sends, digestId, (s) => s.archivePath !== undefined);
    expect(send.archivePath).toBe(`/archive/${digestId}/index.html`);
    const publicDir = join(dir, 'data', 'public');
    const page = await readFile(join(publicDir, 'archive', digestId, 'index.html'), 'utf8');
    for (const t of ['Comet seen', 'Budget passes', 'Harbour reopens']) expect(page).toContain(t);
    expect(page).not.toContain('Too old for any digest');
    expect(page).not.toMatch(/token=|unsubscribe|Regular Reader/i);
    const rss = new XMLParser().parse(await readFile(join(publicDir, 'archive', 'feed.xml'), 'utf8')) as {
      rss: { channel: { item: { link: string } | { link: string }[] } };
    };
    const items = [rss.rss.channel.item].flat();
    expect(items.map((i) => i.link)).toEqual([`${TEST_SITE.publicUrl}/archive/${digestId}/`]);
    const json = JSON.parse(await readFile(join(publicDir, 'archive', 'feed.json'), 'utf8')) as { version: string; items: { url: string }[] };
    expect(json.version).toBe('https://jsonfeed.org/version/1.1');
    expect(json.items[0]!.url).toBe(`${TEST_SITE.publicUrl}/archive/${digestId}/`);
    expect(await readFile(join(publicDir, 'archive', 'atom.xml'), 'utf8')).toContain(`tag:news.example.com,2024:digest:${digestId}`);
  });

  it('sends nothing at all when a second digest finds nothing new for anyone', async () => {
    await firstDigest();
    const before = await outboxByRecipient(ses.outboxDir);
    const again = await createSend(pipeline.deps, { kind: 'digest', frequency: 'daily' });
    const send = await waitForSend(pipeline.deps.sends, again.body.id, (s) => s.status === 'completed');
    expect(send.counts).toMatchObject({ planned: 5, submitted: 0, skipped: 5 });
    expect(await outboxByRecipient(ses.outboxDir)).toEqual(before);
    expect(send.archivePath).toBeUndefined();
  });

  it('reports a scheduled digest that runs after its deadline as expired, and sends nothing stale', async () => {
    const before = await outboxByRecipient(ses.outboxDir);
    const late = await createDigestHandler(pipeline.deps)({ frequency: 'daily', scheduledAt: ago(13 * HOUR) });
    expect(late.status).toBe('expired');
    const send = (await pipeline.deps.sends.get(late.id))!;
    expect(send.reason).toMatch(/after its deadline .* not sent stale/);
    await pipeline.idle();
    expect(await outboxByRecipient(ses.outboxDir)).toEqual(before);
    // The schedule firing twice for one slot creates one send.
    const slot = ago(HOUR);
    const once = await createDigestHandler(pipeline.deps)({ frequency: 'weekly', scheduledAt: slot });
    const second = await createDigestHandler(pipeline.deps)({ frequency: 'weekly', scheduledAt: slot });
    expect(second).toEqual({ id: once.id, status: 'exists' });
    // The weekly send goes out in the background: let it finish here rather than inside another test.
    await pipeline.idle();
  });
});
