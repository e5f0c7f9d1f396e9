import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { linkIn, startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';
import { subscriberLinks } from '../../lambdas/core/subscribers/links.ts';

let h: SubscriberHarness;
beforeAll(async () => {
  h = await startSubscriberHarness({ limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } } });
});
afterAll(async () => {
  await h?.stop();
});

const subscribeJson = (body: unknown) => h.api('/subscribe', { method: 'POST', json: body, headers: { authorization: '' } });
const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;
const confirmByPost = (token: string) => h.postForm('/confirm', { token });
const raw = async (key: { PK: string; SK: string }) => (await h.doc.send(new GetCommand({ TableName: h.tableName, Key: key }))).Item;

async function audience(frequency: string): Promise<string[]> {
  const out = await h.doc.send(
    new QueryCommand({
      TableName: h.tableName,
      IndexName: 'GSI2',
      KeyConditionExpression: 'GSI2PK = :pk',
      ExpressionAttributeValues: { ':pk': `AUD#${frequency}` },
    }),
  );
  return (out.Items ?? []).map((i) => i.id as string);
}

async function subscribeAndConfirm(email: string, extra: Record<string, unknown> = {}) {
  const before = h.mailTo(email).length;
  expect((await subscribeJson({ email, ...extra })).status).toBe(202);
  const mail = await h.waitForMail(email, before + 1);
  const token = tokenOf(linkIn(mail.text, `${h.url}/confirm?token=`));
  expect((await confirmByPost(token)).status).toBe(200);
  return (await h.repo.findByEmailHash(emailHash(email)))!;
}

describe('subscribe and confirm (double opt-in)', () => {
  it('stores a pending subscriber and sends a transactional confirmation with a text part and no List-Unsubscribe', async () => {
    const res = await subscribeJson({ email: 'Ada@Example.org', name: 'Ada Lovelace', frequency: 'daily', topics: ['Science', 'Middle East'] });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: true });
    const s = await h.repo.findByEmailHash(emailHash('ada@example.org'));
    expect(s).toMatchObject({
      email: 'Ada@Example.org',
      name: 'Ada Lovelace',
      status: 'pending',
      frequency: 'daily',
      topics: ['science', 'middle-east'],
      paused: false,
      softBounces: 0,
      version: 1,
    });
    const item = await raw(keys.subscriber(s!.id));
    expect(item).toMatchObject({ entity: 'subscriber', GSI1PK: 'SUBS#pending', GSI1SK: `${s!.createdAt}#${s!.id}`, emailHash: emailHash('ada@example.org') });
    expect(item!.GSI2PK).toBeUndefined();

    const mail = await h.waitForMail('Ada@Example.org');
    expect(mail.sidecar.configurationSet).toBe('inkwire-transactional');
    expect(mail.sidecar.tags).toMatchObject({ subscriber_id: s!.id, kind: 'confirm', stream: 'transactional' });
    expect(mail.header('list-unsubscribe')).toBeUndefined();
    expect(mail.text).toContain(`${h.url}/confirm?token=`);
    expect(mail.html).toContain(`${h.url}/confirm?token=`);
    expect(mail.header('to')).toContain('Ada Lovelace');
  });

  it('a GET of the confirmation link shows a button and confirms nothing (link scanners)', async () => {
    const mail = await h.waitForMail('Ada@Example.org');
    const link = linkIn(mail.text, `${h.url}/confirm?token=`);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<form method="post"');
    expect(html).toContain('Confirm my subscription');
    expect((await h.repo.findByEmailHash(emailHash('ada@example.org')))!.status).toBe('pending');
  });

  it('the POST confirms, puts the subscriber in the audience and sends one welcome email; confirming again is harmless', async () => {
    const mail = await h.waitForMail('Ada@Example.org');
    const token = tokenOf(linkIn(mail.text, `${h.url}/confirm?token=`));
    const first = await confirmByPost(token);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('You are subscribed');
    const s = (await h.repo.findByEmailHash(emailHash('ada@example.org')))!;
    expect(s).toMatchObject({ status: 'confirmed', version: 2 });
    expect(s.confirmedAt).toBeTruthy();
    expect(await audience('daily')).toContain(s.id);

    const welcome = await h.waitForMail('Ada@Example.org', 2);
    expect(welcome.header('subject')).toContain('Welcome');
    expect(welcome.text).toContain(`${h.url}/preferences?token=`);

    const again = await confirmByPost(token);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('already subscribed');
    expect((await h.repo.get(s.id))!.version).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.mailTo('Ada@Example.org')).toHaveLength(2);
  });

  it('a confirm token cannot unsubscribe, and an unsubscribe token cannot confirm', async () => {
    const s = (await h.repo.findByEmailHash(emailHash('ada@example.org')))!;
    const confirmToken = tokenOf(linkIn((await h.waitForMail('Ada@Example.org')).text, `${h.url}/confirm?token=`));
    const res = await h.postForm(`/unsubscribe?token=${confirmToken}`, { 'List-Unsubscribe': 'One-Click' });
    expect(res.status).toBe(400);
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
  });

  it('submitting the form again never downgrades a confirmed subscriber, changes nothing and sends nothing', async () => {
    const before = (await h.repo.findByEmailHash(emailHash('ada@example.org')))!;
    const mails = h.mailTo('Ada@Example.org').length;
    const res = await h.postForm('/subscribe', { email: 'ada@example.org', name: 'Mallory', frequency: 'instant' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${h.url}/subscribe/check-inbox`);
    const json = await subscribeJson({ email: 'ADA@example.org', frequency: 'weekly' });
    expect(json.status).toBe(202);
    const after = (await h.repo.get(before.id))!;
    expect(after).toEqual(before);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.mailTo('Ada@Example.org').length).toBe(mails);
    expect(h.mailTo('ada@example.org').length).toBe(0);
  });

  it('answers a known and an unknown address identically', async () => {
    const known = await subscribeJson({ email: 'ada@example.org' });
    const unknown = await subscribeJson({ email: `new-${Date.now()}@example.org` });
    expect(known.status).toBe(unknown.status);
    expect(await known.json()).toEqual(await unknown.json());
    const formKnown = await h.postForm('/subscribe', { email: 'ada@example.org' });
    const formUnknown = await h.postForm('/subscribe', { email: `new2-${Date.now()}@example.org` });
    expect(formKnown.status).toBe(formUnknown.status);
    expect(formKnown.headers.get('location')).toBe(formUnknown.headers.get('location'));
  });

  it('a pending subscriber who submits again gets the confirmation again', async () => {
    expect((await subscribeJson({ email: 'bob@example.org' })).status).toBe(202);
    await h.waitForMail('bob@example.org', 1);
    expect((await subscribeJson({ email: 'bob@example.org', frequency: 'instant' })).status).toBe(202);
    await h.waitForMail('bob@example.org', 2);
    expect(await h.repo.findByEmailHash(emailHash('bob@example.org'))).toMatchObject({ status: 'pending', frequency: 'instant' });
  });
});

describe('preferences and unsubscribe', () => {
  it('changes apply at once: frequency moves the audience entry, pause removes it', async () => {
    const s = await subscribeAndConfirm('carol@example.org', { frequency: 'instant' });
    expect(await audience('instant')).toContain(s.id);
    const welcome = await h.waitForMail('carol@example.org', 2);
    const prefs = linkIn(welcome.text, `${h.url}/preferences?token=`);
    const token = tokenOf(prefs);

    const page = await fetch(prefs);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('carol@example.org');

    const saved = await h.postForm('/preferences', { token, action: 'save', frequency: 'weekly', topics: ['politics'], moreTopics: 'Science' });
    expect(saved.status).toBe(303);
    expect(await h.repo.get(s.id)).toMatchObject({ frequency: 'weekly', topics: ['politics', 'science'], paused: false });
    expect(await audience('instant')).not.toContain(s.id);
    expect(await audience('weekly')).toContain(s.id);

    await h.postForm('/preferences', { token, action: 'save', frequency: 'weekly', paused: 'true' });
    expect(await h.repo.get(s.id)).toMatchObject({ paused: true, status: 'confirmed', topics: [] });
    expect(await audience('weekly')).not.toContain(s.id);
  });

  it('RFC 8058: a POST of List-Unsubscribe=One-Click to the unsubscribe URL unsubscribes at once; GET shows one button', async () => {
    const s = await subscribeAndConfirm('dan@example.org');
    const unsubscribeUrl = subscriberLinks(h.deps.site, h.signer, s.id, new Date()).unsubscribeUrl;

    const get = await fetch(unsubscribeUrl);
    expect(get.status).toBe(200);
    const html = await get.text();
    expect(html.match(/<button/g)).toHaveLength(1);
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');

    const post = await fetch(unsubscribeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(post.status).toBe(200);
    const after = (await h.repo.get(s.id))!;
    expect(after.status).toBe('unsubscribed');
    expect(await audience('weekly')).not.toContain(s.id);

    // Again: still 200, nothing changes.
    const again = await fetch(unsubscribeUrl, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--x--\r\n',
    });
    expect(again.status).toBe(200);
    expect((await h.repo.get(s.id))!.version).toBe(after.version);

    // Submitting the form again makes them pending with a new confirmation; they are not mailed newsletters meanwhile.
    expect((await subscribeJson({ email: 'dan@example.org' })).status).toBe(202);
    expect((await h.repo.get(s.id))!.status).toBe('pending');
    await h.waitForMail('dan@example.org', 3);
  });

  it('the unsubscribe page and the done page name the address, escaped', async () => {
    const email = `o'neil&<b>x</b>@example.org`;
    const now = new Date().toISOString();
    const id = `unsubaddr${Date.now().toString(36)}`;
    await h.repo.create({
      id,
      email,
      emailHash: emailHash(email),
      status: 'confirmed',
      frequency: 'weekly',
      topics: [],
      paused: false,
      createdAt: now,
      confirmedAt: now,
      updatedAt: now,
      softBounces: 0,
      source: 'import',
      version: 1,
    });
    const unsubscribeUrl = subscriberLinks(h.deps.site, h.signer, id, new Date()).unsubscribeUrl;
    const escaped = 'o&#39;neil&amp;&lt;b&gt;x&lt;/b&gt;@example.org';

    const get = await (await fetch(unsubscribeUrl)).text();
    expect(get).toContain(escaped);
    expect(get).not.toContain('<b>x</b>');
    const done = await fetch(unsubscribeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(done.status).toBe(200);
    const doneHtml = await done.text();
    expect(doneHtml).toContain(`<strong class="address">${escaped}</strong> will not receive any more email`);
    expect(doneHtml).not.toContain('<b>x</b>');
    expect((await h.repo.get(id))!.status).toBe('unsubscribed');
    // Already unsubscribed: the page still names the address.
    expect(
      await (
        await fetch(unsubscribeUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' })
      ).text(),
    ).toContain(escaped);
  });

  it('refuses forged, expired and missing tokens with a page, changing nothing', async () => {
    const s = await subscribeAndConfirm('erin@example.org');
    const good = h.signer.sign({ subscriberId: s.id, purpose: 'unsubscribe', expiresAt: new Date(Date.now() + 86_400_000) });
    const forged = `${good.slice(0, -3)}${good.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const expired = h.signer.sign({ subscriberId: s.id, purpose: 'unsubscribe', expiresAt: new Date(Date.now() - 1000) });
    const r1 = await fetch(`${h.url}/unsubscribe?token=${forged}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r1.status).toBe(400);
    expect(r1.headers.get('content-type')).toContain('text/html');
    expect(await r1.text()).toContain('This link does not work');
    const r2 = await fetch(`${h.url}/unsubscribe?token=${expired}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(r2.status).toBe(410);
    const r3 = await fetch(`${h.url}/preferences`);
    expect(r3.status).toBe(400);
    expect((await h.repo.get(s.id))!.status).toBe('confirmed');
  });
});

describe('bad input and abuse on the public form', () => {
  it('refuses invalid addresses and CR/LF in names with a clear message, writing nothing', async () => {
    const r1 = await subscribeJson({ email: 'not-an-address' });
    expect(r1.status).toBe(400);
    expect(((await r1.json()) as { error: { message: string } }).error.message).toMatch(/email: must be an email address/);
    const r2 = await subscribeJson({ email: 'frank@example.org', name: 'Frank\r\nBcc: victim@example.org' });
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as { error: { message: string } }).error.message).toMatch(/name: must be one line/);
    const r3 = await h.postForm('/subscribe', { email: 'frank@example.org', name: 'Frank\nBcc: victim@example.org' });
    expect(r3.status).toBe(400);
    const html = await r3.text();
    expect(html).toContain('must be one line');
    expect(html).toContain('aria-invalid="true"');
    expect(await h.repo.findByEmailHash(emailHash('frank@example.org'))).toBeUndefined();
    expect(h.mailTo('frank@example.org')).toHaveLength(0);
  });

  it('refuses an oversized body (413) and malformed JSON (400)', async () => {
    const big = await subscribeJson({ email: 'gina@example.org', name: 'x'.repeat(20_000) });
    expect(big.status).toBe(413);
    const broken = await fetch(`${h.url}/subscribe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":' });
    expect(broken.status).toBe(400);
    expect(await h.repo.findByEmailHash(emailHash('gina@example.org'))).toBeUndefined();
  });

  it('a filled honeypot answers as usual and writes nothing', async () => {
    const res = await h.postForm('/subscribe', { email: 'bot@example.org', website: 'http://spam.example' });
    expect(res.status).toBe(303);
    expect(await h.repo.findByEmailHash(emailHash('bot@example.org'))).toBeUndefined();
  });

  it('lets the publisher\u2019s site (and no other origin) call the JSON endpoint from a browser', async () => {
    const pre = await fetch(`${h.url}/subscribe`, {
      method: 'OPTIONS',
      headers: { origin: 'https://news.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://news.example.com');
    const other = await fetch(`${h.url}/subscribe`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });

  it('escapes what it echoes back into the form', async () => {
    const res = await h.postForm('/subscribe', { email: '"><script>alert(1)</script>' });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;');
  });
});

describe('keys used', () => {
  it('claims the address by hash', async () => {
    const s = (await h.repo.findByEmailHash(emailHash('carol@example.org')))!;
    expect(await raw(keys.emailClaim(emailHash('carol@example.org')))).toMatchObject({ entity: 'emailClaim', subscriberId: s.id });
  });
});

describe('no timing tell on POST /subscribe', () => {
  let slow: SubscriberHarness;
  const FLOOR = 250;
  beforeAll(async () => {
    slow = await startSubscriberHarness({
      subscribeMinMs: FLOOR,
      limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } },
    });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  const timed = async (body: unknown) => {
    const started = performance.now();
    const res = await slow.api('/subscribe', { method: 'POST', json: body, headers: { authorization: '' } });
    return { status: res.status, ms: performance.now() - started };
  };

  it('a confirmed address (nothing sent, nothing written) takes as long to answer as a new one', async () => {
    expect((await timed({ email: 'carol@example.org' })).status).toBe(202);
    const mail = await slow.waitForMail('carol@example.org', 1);
    const token = new URL(linkIn(mail.text, `${slow.url}/confirm?token=`)).searchParams.get('token')!;
    expect((await slow.postForm('/confirm', { token })).status).toBe(200);
    const known = await timed({ email: 'carol@example.org' });
    const unknown = await timed({ email: `fresh-${Date.now()}@example.org` });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    // Both wait out the floor: without it, the confirmed address answers in a few milliseconds.
    expect(known.ms).toBeGreaterThanOrEqual(FLOOR - 5);
    expect(unknown.ms).toBeGreaterThanOrEqual(FLOOR - 5);
    const started = performance.now();
    expect((await slow.postForm('/subscribe', { email: 'carol@example.org' })).status).toBe(303);
    expect(performance.now() - started).toBeGreaterThanOrEqual(FLOOR - 5);
  });
});

describe('preference page topics: the site\u2019s tags when SUBSCRIBE_TOPICS is unset', () => {
  let t: SubscriberHarness;
  beforeAll(async () => {
    t = await startSubscriberHarness({
      topicChoices: 'articles',
      limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } },
    });
  });
  afterAll(async () => {
    await t?.stop();
  });
  const confirmedIn = async (email: string) => {
    expect((await t.api('/subscribe', { method: 'POST', json: { email }, headers: { authorization: '' } })).status).toBe(202);
    const mail = await t.waitForMail(email, 1);
    expect((await t.postForm('/confirm', { token: tokenOf(linkIn(mail.text, `${t.url}/confirm?token=`)) })).status).toBe(200);
    return (await t.repo.findByEmailHash(emailHash(email)))!;
  };
  const boxes = (html: string) =>
    [...html.matchAll(/<input type="checkbox" id="topic-[^"]+" name="topics" value="([^"]+)"[^>]*><label for="[^"]+">([^<]+)<\/label>/g)].map((m) => [
      m[1],
      m[2],
    ]);

  it('offers no boxes and says every article comes while no article is tagged; offers the tags of published articles by name; refuses any other topic', async () => {
    const s = await confirmedIn('topics-reader@example.org');
    const prefs = subscriberLinks(t.deps.site, t.signer, s.id, new Date()).preferencesUrl;
    const token = tokenOf(prefs);
    const empty = await (await fetch(prefs)).text();
    expect(boxes(empty)).toEqual([]);
    expect(empty).toContain('You get every article: there are no topics to choose from yet.');
    expect(empty).not.toContain('Tick nothing');

    for (const [title, tags, status] of [
      ['Tagged one', ['Middle East', 'Science'], 'published'],
      ['Tagged two', ['Climate Change', 'Science'], 'published'],
      ['Draft', ['Secret Plans'], 'draft'],
    ] as const) {
      const res = await t.api('/api/articles', { method: 'POST', json: { title, bodyFormat: 'markdown', body: `Body of ${title}.`, tags, status } });
      expect(res.status).toBe(201);
    }
    const offered = await (await fetch(prefs)).text();
    expect(boxes(offered)).toEqual([
      ['climate-change', 'Climate Change'],
      ['middle-east', 'Middle East'],
      ['science', 'Science'],
    ]);
    expect(offered).toContain('Tick the topics you want, or none to get every article.');

    expect((await t.postForm('/preferences', { token, action: 'save', frequency: 'weekly', topics: ['middle-east', 'climate-change'] })).status).toBe(303);
    expect((await t.repo.get(s.id))!.topics).toEqual(['middle-east', 'climate-change']);
    const ticked = await (await fetch(prefs)).text();
    expect(ticked).toMatch(/value="middle-east" checked><label for="topic-middle-east">Middle East<\/label>/);

    for (const form of [{ topics: ['secret-plans'] }, { topics: ['science', 'made-up'] }, { moreTopics: 'Nonsense' }] as Record<string, string | string[]>[]) {
      const refused = await t.postForm('/preferences', { token, action: 'save', frequency: 'daily', ...form });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/is not a topic of Thin Line News: choose from the list\./);
    }
    expect(await t.repo.get(s.id)).toMatchObject({ frequency: 'weekly', topics: ['middle-east', 'climate-change'] });
  });
});
