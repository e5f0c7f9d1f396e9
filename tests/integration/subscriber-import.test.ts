import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';
import { startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { emailHash } from '../../lambdas/core/subscribers/schema.ts';
import type { ImportReport } from '../../lambdas/core/subscribers/import.ts';

let h: SubscriberHarness;
beforeAll(async () => {
  h = await startSubscriberHarness({ maxImportBytes: 200_000, limits: { perNetwork: { max: 1000, windowSeconds: 60 }, perEmail: { max: 1000, windowSeconds: 60 } } });
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
    expect(await find('imp-a@example.org')).toMatchObject({ status: 'pending', name: 'Ann', frequency: 'daily', topics: ['science', 'politics'], source: 'import' });
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
    await fetch(`${h.url}/unsubscribe?token=${unsubscribe}`, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
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
