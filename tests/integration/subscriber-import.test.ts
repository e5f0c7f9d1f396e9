import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import type { ImportReport } from '../../lambdas/core/subscribers/import.ts';

let h: SubscriberHarness;
beforeAll(async () => {
  h = await startSubscriberHarness({
    maxImportBytes: 200_000,
    limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } },
  });
});
afterAll(async () => {
  await h?.stop();
});

const importCsv = (csv: string | ReadableStream<Uint8Array>, query = '', headers: Record<string, string> = {}) =>
  h.api(`/api/subscribers/import${query}`, { method: 'POST', body: csv, headers: { 'content-type': 'text/csv', ...headers } });
const report = async (res: Response) => {
  expect(res.status).toBe(200);
  return (await res.json()) as ImportReport;
};
const find = (email: string) => h.repo.findByEmailHash(emailHash(email));

describe('CSV import', () => {
  it('imports rows as pending by default, sends no mail, and reports each bad row by line', async () => {
    const csv = [
      'email,name,frequency,topics',
      'imp-a@example.org,Ann,daily,Science;Politics',
      'imp-b@example.org,,,',
      'not-an-address,Bad,,',
      'imp-c@example.org,"Carl\r\nBcc: victim@example.org",weekly,',
      'imp-d@example.org,Dee,hourly,',
      'imp-e@example.org,Eve,weekly,x,extra',
      '',
      'IMP-A@example.org,Ann again,instant,',
    ].join('\n');
    const r = await report(await importCsv(csv));
    expect(r).toMatchObject({ status: 'pending', rows: 7, created: 2, invalid: 4, duplicates: 1, confirmationsRequested: 0 });
    // The multi-line row (quoted CR LF) is reported at the line it starts on.
    expect(r.errors.map((e) => e.line)).toEqual([4, 5, 7, 8]);
    expect(r.errors[0]!.message).toMatch(/email: must be an email address/);
    expect(r.errors[1]!.message).toMatch(/name: must be one line/);
    expect(r.errors[2]!.message).toMatch(/frequency/);
    expect(r.errors[3]!.message).toMatch(/wrong number of fields/);
    expect(await find('imp-a@example.org')).toMatchObject({
      status: 'pending',
      name: 'Ann',
      frequency: 'daily',
      topics: ['science', 'politics'],
      source: 'import',
    });
    expect(await find('imp-b@example.org')).toMatchObject({ status: 'pending', frequency: 'weekly', topics: [] });
    for (const bad of ['imp-c@example.org', 'imp-d@example.org', 'imp-e@example.org', 'not-an-address']) expect(await find(bad)).toBeUndefined();
    expect(h.mailTo('imp-a@example.org')).toHaveLength(0);
  });

  it('with consent=confirmed rows become confirmed, pending ones are confirmed, and a confirmed subscriber is never downgraded', async () => {
    const r = await report(await importCsv('email,frequency\nimp-a@example.org,weekly\nimp-f@example.org,instant\n', '?consent=confirmed'));
    expect(r).toMatchObject({ status: 'confirmed', created: 1, confirmed: 1, unchanged: 0 });
    expect(await find('imp-a@example.org')).toMatchObject({ status: 'confirmed', frequency: 'daily' });
    expect(await find('imp-f@example.org')).toMatchObject({ status: 'confirmed', frequency: 'instant' });
    expect((await find('imp-f@example.org'))!.confirmedAt).toBeTruthy();

    const again = await report(await importCsv('email,frequency\nimp-a@example.org,weekly\nimp-f@example.org,daily\n'));
    expect(again).toMatchObject({ created: 0, unchanged: 2 });
    expect(await find('imp-f@example.org')).toMatchObject({ status: 'confirmed', frequency: 'instant' });
  });

  it('skips suppressed addresses and unsubscribed subscribers', async () => {
    const s = await find('imp-f@example.org');
    const unsubscribe = h.signer.sign({ subscriberId: s!.id, purpose: 'unsubscribe', expiresAt: new Date(Date.now() + 60_000) });
    await fetch(`${h.url}/unsubscribe?token=${unsubscribe}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await h.repo.suppressAddress({ emailHash: emailHash('bounced@example.org'), reason: 'bounce', at: new Date().toISOString() });
    const r = await report(await importCsv('email\nimp-f@example.org\nbounced@example.org\nimp-g@example.org\n', '?consent=confirmed'));
    expect(r).toMatchObject({ created: 1, skippedUnsubscribed: 1, skippedSuppressed: 1 });
    expect((await find('imp-f@example.org'))!.status).toBe('unsubscribed');
    expect(await find('bounced@example.org')).toBeUndefined();
  });

  it('with sendConfirmation=true pending rows are marked with the import and one confirmation send is created for them, not mailed from the import', async () => {
    const r = await report(await importCsv('email,name\nimp-h@example.org,Hal\n', '?sendConfirmation=true'));
    expect(r).toMatchObject({ created: 1, confirmationsRequested: 1 });
    const sendId = r.confirmationSendId as string;
    const importId = sendId.replace(/^confirm-/, '');
    expect((await find('imp-h@example.org'))!.importId).toBe(importId);
    const send = await new DynamoSendRepository(h.doc, h.tableName).get(sendId);
    expect(send).toMatchObject({ kind: 'confirmation', trigger: 'import', status: 'pending', importId });
    // The delivery engine sends it (tests/integration/import-confirmations.test.ts); the import itself mails nobody.
    await new Promise((r) => setTimeout(r, 200));
    expect(h.mailTo('imp-h@example.org')).toHaveLength(0);
    expect((await importCsv('email\nimp-h@example.org\n', '?consent=confirmed&sendConfirmation=true')).status).toBe(400);
  });

  it('refuses a file without a usable header, an empty file and the wrong content type, writing nothing', async () => {
    const noEmail = await importCsv('name,frequency\nAnn,daily\n');
    expect(noEmail.status).toBe(400);
    expect(((await noEmail.json()) as { error: { message: string } }).error.message).toMatch(/header/);
    const unknown = await importCsv('email,phone\nimp-z@example.org,123\n');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { issues: { message: string }[] } }).error.issues[0]!.message).toMatch(/unknown column: phone/);
    expect((await importCsv('')).status).toBe(400);
    expect((await h.api('/api/subscribers/import', { method: 'POST', json: [{ email: 'imp-z@example.org' }] })).status).toBe(415);
    expect(await find('imp-z@example.org')).toBeUndefined();
  });

  it('reports a quote that is never closed', async () => {
    const r = await report(await importCsv('email,name\nimp-q@example.org,Q\n"imp-r@example.org,R\n'));
    expect(r.created).toBe(1);
    expect(r.errors).toEqual([{ line: 3, message: 'a quoted field is never closed' }]);
  });

  it('streams a body without Content-Length, and refuses one over the size limit (413)', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => `stream-${i}@example.org,Name ${i},weekly,science\n`);
    const encoder = new TextEncoder();
    let i = -1;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < 0) controller.enqueue(encoder.encode('email,name,frequency,topics\n'));
        else if (i < rows.length) controller.enqueue(encoder.encode(rows.slice(i, i + 50).join('')));
        else controller.close();
        i = i < 0 ? 0 : i + 50;
      },
    });
    const r = await report(await importCsv(stream));
    expect(r).toMatchObject({ rows: 300, created: 300, invalid: 0 });

    const big = `email\n${'toolong@example.org\n'.repeat(12_000)}`;
    const tooLarge = await importCsv(big);
    expect(tooLarge.status).toBe(413);
  });

  it('importing the same file twice changes nothing the second time', async () => {
    const csv = `email,frequency\n${Array.from({ length: 120 }, (_, i) => `twice-${i}@example.org,daily`).join('\n')}\n`;
    const first = await report(await importCsv(csv, '?consent=confirmed'));
    expect(first.created).toBe(120);
    const before = await find('twice-7@example.org');
    const second = await report(await importCsv(csv, '?consent=confirmed'));
    expect(second).toMatchObject({ created: 0, unchanged: 120 });
    expect(await find('twice-7@example.org')).toEqual(before);
  });
});

describe('CSV import of exports (Inkwire, Mailchimp, Substack, Ghost, Buttondown)', () => {
  it('imports its own export back: confirmed rows stay confirmed with their dates only with consent=confirmed, pending ones stay pending, unsubscribed ones are skipped with a reason', async () => {
    await report(await importCsv('email,name,frequency,topics\nrt-a@example.org,"Ann, A.",daily,science;history\n', '?consent=confirmed'));
    await report(await importCsv('email\nrt-b@example.org\n'));
    const exported = await (await h.api('/api/subscribers/export')).text();
    const header = exported.split('\r\n')[0]!;
    expect(header).toBe('id,email,name,status,frequency,topics,paused,createdAt,confirmedAt,source');
    const rows = exported.split('\r\n').filter((l) => /,rt-[ab]@example\.org,/.test(l));
    expect(rows).toHaveLength(2);
    const a = (await find('rt-a@example.org'))!;
    const unsubscribedRow = rows
      .find((l) => l.includes('rt-a@'))!
      .replace('rt-a@', 'rt-u@')
      .replace(',confirmed,', ',unsubscribed,');
    const file = [header, ...rows, unsubscribedRow].join('\r\n').replace(/rt-([abu])@/g, 'rt2-$1@');

    const asserted = await report(await importCsv(file, '?consent=confirmed'));
    expect(asserted).toMatchObject({
      rows: 3,
      created: 2,
      invalid: 0,
      skippedUnsubscribed: 1,
      skipped: [{ line: 4, reason: 'unsubscribed in the exported list' }],
    });
    expect(await find('rt2-a@example.org')).toMatchObject({
      status: 'confirmed',
      name: 'Ann, A.',
      frequency: 'daily',
      topics: ['science', 'history'],
      createdAt: a.createdAt,
      confirmedAt: a.confirmedAt,
      source: 'import',
    });
    expect(await find('rt2-b@example.org')).toMatchObject({ status: 'pending' });
    expect((await find('rt2-b@example.org'))!.confirmedAt).toBeUndefined();
    expect(await find('rt2-u@example.org')).toBeUndefined();

    const withoutConsent = await report(await importCsv(file.replace(/rt2-/g, 'rt3-')));
    expect(withoutConsent).toMatchObject({ created: 2, skippedUnsubscribed: 1 });
    expect(await find('rt3-a@example.org')).toMatchObject({ status: 'pending' });
  });

  it('reads a Mailchimp export: address, first and last name, the opt-in and confirmation times; skips unsubscribed and cleaned rows', async () => {
    const csv = [
      'Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS,UNSUB_TIME,CLEAN_TIME',
      'mc-a@example.org,Mary,Chimp,2,2021-03-04 05:06:07,,2021-03-04 06:07:08,1.2.3.4,,,,,,,,2022-01-01 00:00:00,1,abc,,"tag1,tag2",,',
      'mc-b@example.org,Bob,,2,2020-01-02 03:04:05,,,,,,,,,,,,2,def,,,,',
      'mc-u@example.org,Una,,2,2020-01-02 03:04:05,,,,,,,,,,,,3,ghi,,,2023-01-01 00:00:00,',
      'mc-c@example.org,Cle,,2,2020-01-02 03:04:05,,,,,,,,,,,,4,jkl,,,,2023-02-02 00:00:00',
    ].join('\n');
    const r = await report(await importCsv(csv, '?consent=confirmed'));
    expect(r).toMatchObject({ rows: 4, created: 2, invalid: 0, skippedUnsubscribed: 1, skippedSuppressed: 1 });
    expect(r.skipped).toEqual([
      { line: 4, reason: 'unsubscribed in the exported list' },
      { line: 5, reason: 'cleaned (bounced) in the exported list' },
    ]);
    expect(await find('mc-a@example.org')).toMatchObject({
      status: 'confirmed',
      name: 'Mary Chimp',
      createdAt: '2021-03-04T05:06:07.000Z',
      confirmedAt: '2021-03-04T06:07:08.000Z',
    });
    expect(await find('mc-b@example.org')).toMatchObject({
      status: 'confirmed',
      name: 'Bob',
      createdAt: '2020-01-02T03:04:05.000Z',
      confirmedAt: '2020-01-02T03:04:05.000Z',
    });
    for (const e of ['mc-u@example.org', 'mc-c@example.org']) expect(await find(e)).toBeUndefined();
  });

  it('reads a Substack export: subscription date, and email_disabled rows skipped (active_subscription is the paid plan, not the mail)', async () => {
    const csv = [
      'email,active_subscription,expiry,plan,email_disabled,subscription_date,created_at',
      'ss-free@example.org,false,,,false,2022-06-07T08:09:10.000Z,2022-06-01T00:00:00.000Z',
      'ss-paid@example.org,true,2025-01-01,yearly,false,,2021-01-01T00:00:00Z',
      'ss-off@example.org,false,,,true,2022-06-07T08:09:10.000Z,',
    ].join('\n');
    const r = await report(await importCsv(csv, '?consent=confirmed'));
    expect(r).toMatchObject({ rows: 3, created: 2, skippedUnsubscribed: 1, skipped: [{ line: 4, reason: expect.stringMatching(/unsubscribed/) }] });
    expect(await find('ss-free@example.org')).toMatchObject({
      status: 'confirmed',
      createdAt: '2022-06-07T08:09:10.000Z',
      confirmedAt: '2022-06-07T08:09:10.000Z',
    });
    expect(await find('ss-paid@example.org')).toMatchObject({ status: 'confirmed', createdAt: '2021-01-01T00:00:00.000Z' });
    expect(await find('ss-off@example.org')).toBeUndefined();
  });

  it('reads a Ghost export: name, created_at, and rows not subscribed to emails skipped', async () => {
    const csv = [
      'id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers',
      '6400aa,gh-a@example.org,Gus Host,,true,false,,2023-01-02T03:04:05.000Z,,VIP,',
      '6400ab,gh-b@example.org,,,false,false,,2023-01-02T03:04:05.000Z,,,',
    ].join('\n');
    const r = await report(await importCsv(csv));
    expect(r).toMatchObject({
      status: 'pending',
      rows: 2,
      created: 1,
      skippedUnsubscribed: 1,
      skipped: [{ line: 3, reason: 'not subscribed to emails in the exported list' }],
    });
    expect(await find('gh-a@example.org')).toMatchObject({ status: 'pending', name: 'Gus Host' });
    expect(await find('gh-b@example.org')).toBeUndefined();
    const confirmed = await report(await importCsv(csv.replace(/gh-/g, 'gh2-'), '?consent=confirmed'));
    expect(confirmed).toMatchObject({ created: 1 });
    expect(await find('gh2-a@example.org')).toMatchObject({
      status: 'confirmed',
      createdAt: '2023-01-02T03:04:05.000Z',
      confirmedAt: '2023-01-02T03:04:05.000Z',
    });
  });

  it('reads a Buttondown export: creation_date, and subscriber_type (unactivated stays pending, unsubscribed skipped, an unknown type refused)', async () => {
    const csv = [
      'id,email,notes,metadata,tags,creation_date,subscriber_type,referrer_url',
      'b1,bd-reg@example.org,,{},,2019-09-10T11:12:13Z,regular,',
      'b2,bd-prem@example.org,,{},,2019-09-10,premium,',
      'b3,bd-new@example.org,,{},,2024-01-01T00:00:00Z,unactivated,',
      'b4,bd-gone@example.org,,{},,2019-09-10T11:12:13Z,unsubscribed,',
      'b5,bd-odd@example.org,,{},,2019-09-10T11:12:13Z,wizard,',
    ].join('\n');
    const r = await report(await importCsv(csv, '?consent=confirmed'));
    expect(r).toMatchObject({ rows: 5, created: 3, invalid: 1, skippedUnsubscribed: 1, skipped: [{ line: 5, reason: 'unsubscribed in the exported list' }] });
    expect(r.errors).toEqual([{ line: 6, message: 'status: unknown status "wizard"' }]);
    expect(await find('bd-reg@example.org')).toMatchObject({
      status: 'confirmed',
      createdAt: '2019-09-10T11:12:13.000Z',
      confirmedAt: '2019-09-10T11:12:13.000Z',
    });
    expect(await find('bd-prem@example.org')).toMatchObject({ status: 'confirmed', createdAt: '2019-09-10T00:00:00.000Z' });
    const unactivated = (await find('bd-new@example.org'))!;
    expect(unactivated.status).toBe('pending');
    expect(unactivated.confirmedAt).toBeUndefined();
    for (const e of ['bd-gone@example.org', 'bd-odd@example.org']) expect(await find(e)).toBeUndefined();
  });

  it('still refuses an unknown column in a plain Inkwire file', async () => {
    const res = await importCsv('email,nmae\nplain@example.org,Ann\n');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { issues: { message: string }[] } }).error.issues[0]!.message).toMatch(/unknown column: nmae/);
  });
});
