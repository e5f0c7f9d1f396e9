/**
 * An import that asks its pending rows to confirm, end to end through the local runtime: the rows carry
 * the import's id, one confirmation send goes out through the delivery engine (in-process queue, the
 * SES-compatible endpoint), each of them gets exactly one request, and its link confirms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOutbox, readOutboxMessage } from '../../lambdas/local/outbox-store.ts';
import { parseMessage } from '../../lambdas/local/mime-reader.ts';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';
import { linkIn } from '../support/subscriber-harness.ts';

let rt: TestRuntime;
beforeAll(async () => {
  rt = await startTestRuntime();
});
afterAll(async () => {
  await rt?.cleanup();
});

async function mailsTo(address: string) {
  const { entries } = await listOutbox(rt.outboxDir, { limit: 1000 });
  const found = [];
  for (const e of entries.filter((x) => x.destinations?.includes(address))) {
    const m = await readOutboxMessage(rt.outboxDir, e.messageId);
    if (m) found.push({ sidecar: m.sidecar!, message: parseMessage(m.raw) });
  }
  return found;
}

async function waitForSend(id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await rt.api(`/api/sends/${id}`);
    const body = await res.json();
    if (res.status === 200 && body.status === 'completed') return body;
    if (Date.now() > deadline) throw new Error(`send ${id} did not complete: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const importCsv = (csv: string, query: string) =>
  rt.api(`/api/subscribers/import${query}`, { method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } });

describe('an import with sendConfirmation=true', () => {
  it('asks every pending row to confirm in one paced send, once each, through the transactional configuration set', async () => {
    // Someone already confirmed, and someone pending from the public form.
    expect((await importCsv('email\nalready@example.org\n', '?consent=confirmed')).status).toBe(200);
    expect((await rt.api('/subscribe', { method: 'POST', json: { email: 'waiting@example.org' }, headers: { authorization: '' } })).status).toBe(202);
    const formMails = (await mailsTo('waiting@example.org')).length;
    expect(formMails).toBe(1);
    // Pending too, but not in the file: this import's confirmation send is not for them.
    expect((await rt.api('/subscribe', { method: 'POST', json: { email: 'elsewhere@example.org' }, headers: { authorization: '' } })).status).toBe(202);

    const res = await importCsv(
      'email,name\nnew-one@example.org,New One\nnew-two@example.org,\nwaiting@example.org,\nalready@example.org,\nnot-an-address,\n',
      '?sendConfirmation=true',
    );
    expect(res.status).toBe(200);
    const report = await res.json();
    expect(report).toMatchObject({ status: 'pending', rows: 5, created: 2, unchanged: 2, invalid: 1, confirmationsRequested: 3 });
    expect(report.confirmationSendId).toMatch(/^confirm-/);

    const send = await waitForSend(report.confirmationSendId);
    expect(send).toMatchObject({ kind: 'confirmation', trigger: 'import', counts: { planned: 3, submitted: 3, failed: 0, uncertain: 0 } });

    for (const address of ['new-one@example.org', 'new-two@example.org']) expect(await mailsTo(address)).toHaveLength(1);
    expect(await mailsTo('waiting@example.org')).toHaveLength(formMails + 1);
    expect(await mailsTo('already@example.org')).toHaveLength(0);
    expect(await mailsTo('elsewhere@example.org')).toHaveLength(1);

    const [mail] = await mailsTo('new-one@example.org');
    expect(mail!.sidecar.configurationSet).toBe('inkwire-transactional');
    expect(mail!.sidecar.tags).toMatchObject({ send_id: report.confirmationSendId, kind: 'confirm' });
    expect(mail!.message.header('List-Unsubscribe')).toBeUndefined();
    expect(mail!.message.header('To')).toContain('New One');
    const link = linkIn(mail!.message.text ?? '', `${rt.url}/confirm?token=`);

    // The link (to this server: the local runtime serves the pages itself) confirms.
    const token = new URL(link).searchParams.get('token')!;
    const confirmed = await fetch(`${rt.url}/confirm`, {
      method: 'POST',
      body: new URLSearchParams({ token }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(confirmed.status).toBe(200);
    const list = await (await rt.api('/api/subscribers?status=confirmed')).json();
    expect(list.items.map((s: { email: string }) => s.email)).toContain('new-one@example.org');
  });

  it('without sendConfirmation nobody is mailed and no send is created', async () => {
    const res = await importCsv('email\nquiet@example.org\n', '');
    const report = await res.json();
    expect(report).toMatchObject({ created: 1, confirmationsRequested: 0 });
    expect(report.confirmationSendId).toBeUndefined();
    await rt.settled();
    expect(await mailsTo('quiet@example.org')).toHaveLength(0);
  });
});
