/**
 * The publisher's console over real HTTP against the local runtime: sign-in, the session cookie and its
 * refusals (none, forged, expired, signed with another key), CSRF (token and cross-site requests), the
 * sign-in rate limit, and the API routes the console added (growth per day, a subscriber's send history).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, TEST_KEY, type TestRuntime } from '../support/runtime.ts';
import { issueSession, sessionKey } from '../../lambdas/http/console/session.ts';

let rt: TestRuntime;
beforeAll(async () => {
  rt = await startTestRuntime();
}, 60_000);
afterAll(async () => {
  await rt?.cleanup();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = 'application/x-www-form-urlencoded';

/**
 * POSTs a form to the console as its own pages do: with the session cookie (if any) and this origin,
 * redirects not followed (a 303 is the answer to look at). `headers` adds or overrides (a cross-site
 * Origin, say).
 */
function postForm(path: string, fields: Record<string, string>, session: { cookie?: string | undefined; headers?: Record<string, string> } = {}) {
  return fetch(rt.url + path, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': FORM, origin: rt.url, ...(session.cookie ? { cookie: session.cookie } : {}), ...session.headers },
    body: form(fields),
  });
}

/** Signs in with the key; the session cookie and the CSRF token of the dashboard's forms. */
async function signIn(key = TEST_KEY, extra: Record<string, string> = {}) {
  const res = await postForm('/admin/sign-in', { key }, { headers: extra });
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  return { res, setCookie, cookie };
}

let shared: Promise<{ cookie: string }> | undefined;
/** One session for tests about what a session may do (each sign-in counts against the sign-in limit). */
const sharedSession = () => (shared ??= signIn());

async function csrfOf(cookie: string, path = '/admin/') {
  const html = await (await fetch(rt.url + path, { headers: { cookie } })).text();
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no CSRF token on ${path}:\n${html.slice(0, 500)}`);
  return m[1]!;
}

describe('console session', () => {
  it('shows the sign-in form with a field labelled "API key" and a "Sign in" button', async () => {
    const res = await rt.get('/admin/');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<label for="key">API key<\/label>/);
    expect(html).toMatch(/<button type="submit">Sign in<\/button>/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('exchanges the right key for an HttpOnly, SameSite=Strict, expiring session cookie that does not contain the key', async () => {
    const { res, setCookie, cookie } = await signIn();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/');
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Max-Age=43200/);
    // Over plain http (the local runtime) the cookie cannot be Secure; over https it is (next test).
    expect(setCookie).not.toMatch(/Secure/i);
    expect(setCookie).not.toContain(TEST_KEY);
    expect(decodeURIComponent(cookie)).not.toContain(TEST_KEY);
    const dash = await fetch(`${rt.url}/admin/`, { headers: { cookie } });
    expect(dash.status).toBe(200);
    expect(await dash.text()).toContain('<h1>Dashboard</h1>');
  });

  it('marks the cookie Secure (with the __Host- prefix) when the request came over https', async () => {
    const { setCookie } = await signIn(TEST_KEY, { 'x-forwarded-proto': 'https' });
    expect(setCookie).toMatch(/^__Host-inkwire_console=/);
    expect(setCookie).toMatch(/Secure/i);
    expect(setCookie).toMatch(/Path=\//);
  });

  it('refuses a wrong key with 401 and sets no cookie', async () => {
    const { res, setCookie } = await signIn('not-the-key');
    expect(res.status).toBe(401);
    expect(setCookie).toBe('');
    expect(await res.text()).toContain('That API key is not right.');
  });

  it('refuses pages without a session, with a forged or tampered cookie, an expired one, or one signed with another key', async () => {
    const now = Date.now();
    const { cookie } = await signIn();
    const [name, value] = cookie.split('=') as [string, string];
    const [payload, sig] = value.split('.') as [string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ exp: now + 10 * 86_400_000, nonce: 'x' })).toString('base64url');
    const cases: Record<string, string | undefined> = {
      none: undefined,
      garbage: `${name}=hello`,
      'payload changed': `${name}=${forgedPayload}.${sig}`,
      'signature changed': `${name}=${payload}.${sig.slice(0, -2)}AA`,
      'other key': `${name}=${issueSession(sessionKey('another-key'), now).value}`,
      expired: `${name}=${issueSession(sessionKey(TEST_KEY), now - 13 * 3_600_000).value}`,
    };
    for (const [label, c] of Object.entries(cases)) {
      for (const path of ['/admin/articles', '/admin/subscribers', '/admin/sends', '/admin/settings']) {
        const res = await fetch(rt.url + path, { redirect: 'manual', headers: c ? { cookie: c } : {} });
        expect(res.status, `${label} ${path}`).toBe(303);
        expect(res.headers.get('location'), `${label} ${path}`).toBe('/admin/');
      }
      const json = await fetch(`${rt.url}/admin/sends/x.json`, { headers: c ? { cookie: c } : {} });
      expect(json.status, label).toBe(401);
      const post = await postForm('/admin/articles', { title: 'x', body: 'y', action: 'publish' }, { cookie: c });
      expect(post.status, label).toBe(401);
    }
    const list = await rt.api('/api/articles');
    expect((await list.json()).items).toEqual([]);
  });

  it('refuses a POST without the CSRF token, with another session\u2019s token, or from another site', async () => {
    const { cookie } = await signIn();
    const token = await csrfOf(cookie);
    const other = await csrfOf((await signIn()).cookie);
    expect(other).not.toBe(token);
    const attempt = (headers: Record<string, string>, fields: Record<string, string>) =>
      postForm('/admin/articles', { title: 'CSRF', body: 'body', action: 'publish', ...fields }, { cookie, headers });
    expect((await attempt({}, {})).status).toBe(403);
    expect((await attempt({}, { _csrf: other })).status).toBe(403);
    expect((await attempt({ origin: 'https://evil.example' }, { _csrf: token })).status).toBe(403);
    expect((await attempt({ 'sec-fetch-site': 'cross-site' }, { _csrf: token })).status).toBe(403);
    expect((await attempt({ 'sec-fetch-site': 'same-site' }, { _csrf: token })).status).toBe(403);
    expect((await rt.api('/api/articles').then((r) => r.json())).items).toEqual([]);
    // The same request from the console itself goes through.
    const ok = await attempt({ origin: rt.url, 'sec-fetch-site': 'same-origin' }, { _csrf: token });
    expect(ok.status).toBe(303);
    expect((await rt.api('/api/articles').then((r) => r.json())).items.map((a: { title: string }) => a.title)).toEqual(['CSRF']);
  });

  it('sign out clears the cookie and ends the session on the server', async () => {
    const { cookie } = await signIn();
    const token = await csrfOf(cookie);
    const res = await postForm('/admin/sign-out', { _csrf: token }, { cookie });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/^inkwire_console=;.*Max-Age=0/);
    // A copy of the cookie kept from before is refused too: the session ended on the server.
    const replay = await fetch(`${rt.url}/admin/settings`, { redirect: 'manual', headers: { cookie } });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toBe('/admin/');
    const post = await postForm('/admin/articles', { _csrf: token, title: 'After sign-out', body: 'x', action: 'publish' }, { cookie });
    expect(post.status).toBe(401);
    // Other sessions go on.
    expect((await fetch(`${rt.url}/admin/settings`, { redirect: 'manual', headers: { cookie: (await sharedSession()).cookie } })).status).toBe(200);
  });

  it('answers a bad id with a 4xx page, not a 5xx', async () => {
    const { cookie } = await sharedSession();
    for (const path of ['/admin/subscribers/NOT_AN_ID', '/admin/sends/Bad_Id', '/admin/articles/zzzz', '/admin/jobs/imports/zzzz']) {
      const res = await fetch(rt.url + path, { headers: { cookie } });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });
});

describe('console actions', () => {
  it('previews a draft’s page and email from the form, in frames only the console may show, saving nothing', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const before = (await (await rt.api('/api/articles')).json()).items.length;
    for (const path of ['/admin/preview/article', '/admin/preview/article-email']) {
      const res = await postForm(
        path,
        { _csrf: token, title: 'Draft <b>title</b>', body: '# Heading here\n\n<script>alert(1)</script>text', bodyFormat: 'markdown', tags: 'Politics' },
        { cookie },
      );
      expect(res.status, path).toBe(200);
      const html = await res.text();
      expect(html, path).toContain('Heading here');
      expect(html, path).not.toContain('<script>alert(1)</script>');
      expect(html, path).not.toContain('<b>title</b>');
      expect(res.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(res.headers.get('content-security-policy'), path).toMatch(/sandbox/);
    }
    expect((await (await rt.api('/api/articles')).json()).items.length).toBe(before);
    // The console's own pages may not be framed at all.
    expect((await fetch(`${rt.url}/admin/`, { headers: { cookie } })).headers.get('x-frame-options')).toBe('DENY');
  });

  it('sends a test email of a saved article from the editor, and shows the API’s error for a bad address', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const article = await (await rt.api('/api/articles', { method: 'POST', json: { title: 'Test me', body: 'Body' } })).json();
    const post = (fields: Record<string, string>) => postForm(`/admin/articles/${article.id}`, { _csrf: token, ...fields }, { cookie });
    const ok = await post({ action: 'test', testAddress: 'editor@example.com' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('A test email went to editor@example.com.');
    const bad = await post({ action: 'test', testAddress: 'not an address' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/class="alert" role="alert">[^<]*addresses/);
    // An invalid edit keeps the editor, with the API's message, and changes nothing.
    const invalid = await post({ action: 'save', title: '', body: 'x', bodyFormat: 'markdown' });
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toContain('title');
    expect((await (await rt.api(`/api/articles/${article.id}`)).json()).title).toBe('Test me');
  });
});

describe('console article actions', () => {
  it('schedules, unpublishes and deletes an article from the editor’s buttons', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const post = (path: string, fields: Record<string, string>) => postForm(path, { _csrf: token, ...fields }, { cookie });
    const at = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    const created = await post('/admin/articles', {
      title: 'Later',
      body: 'Soon',
      bodyFormat: 'markdown',
      tags: 'Science, Space',
      action: 'schedule',
      publishAt: at,
    });
    expect(created.status).toBe(303);
    const id = /\/admin\/articles\/([a-z0-9]+)\?saved=schedule$/.exec(created.headers.get('location')!)![1]!;
    expect(await (await rt.api(`/api/articles/${id}`)).json()).toMatchObject({
      status: 'scheduled',
      publishAt: `${at}:00.000Z`,
      tags: [{ name: 'Science' }, { name: 'Space' }],
    });
    const noDate = await post(`/admin/articles/${id}`, { title: 'Later', body: 'Soon', action: 'schedule', publishAt: '' });
    expect(noDate.status).toBe(400);
    expect((await post(`/admin/articles/${id}`, { action: 'unpublish' })).status).toBe(303);
    expect((await (await rt.api(`/api/articles/${id}`)).json()).status).toBe('draft');
    expect((await post(`/admin/articles/${id}`, { action: 'publish', title: 'Later', body: 'Now', bodyFormat: 'markdown' })).status).toBe(303);
    expect((await (await rt.api(`/api/articles/${id}`)).json()).status).toBe('published');
    const list = await (await fetch(`${rt.url}/admin/articles?q=space`, { headers: { cookie } })).text();
    expect(list).toContain('>Later</a>');
    expect((await post(`/admin/articles/${id}`, { action: 'delete' })).status).toBe(303);
    expect((await rt.api(`/api/articles/${id}`)).status).toBe(404);
  });

  it('previews a send’s email through the API, and says why when there is nothing to preview', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const article = await (await rt.api('/api/articles', { method: 'POST', json: { title: 'Alert preview', body: 'Alert body', status: 'published' } })).json();
    const post = (fields: Record<string, string>) => postForm('/admin/preview/email', { _csrf: token, ...fields }, { cookie });
    const ok = await post({ kind: 'article', articleId: article.id, subject: 'Read this' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Alert body');
    const none = await post({ kind: 'article', articleId: 'nosucharticle' });
    expect(none.status).toBeGreaterThanOrEqual(400);
    expect(none.status).toBeLessThan(500);
  });
});

describe('console subscriber jobs and sends', () => {
  it('imports a CSV through an import job and shows its progress, then its report', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const body = new FormData();
    body.set('_csrf', token);
    body.set('consent', 'confirmed');
    body.set('file', new Blob(['email,name\nimported1@example.com,One\nimported2@example.com,Two\nnot-an-address,Bad\n'], { type: 'text/csv' }), 'list.csv');
    const res = await fetch(`${rt.url}/admin/subscribers/import`, { method: 'POST', redirect: 'manual', headers: { cookie, origin: rt.url }, body });
    expect(res.status).toBe(303);
    const jobPath = res.headers.get('location')!;
    expect(jobPath).toMatch(/^\/admin\/jobs\/imports\/[A-Za-z0-9_-]+$/);
    let job: { status: string; running: boolean; report?: { created: number; invalid: number } } = { status: '', running: true };
    const deadline = Date.now() + 20_000;
    while (job.running && Date.now() < deadline) {
      job = (await (await fetch(`${rt.url}${jobPath}.json`, { headers: { cookie } })).json()) as typeof job;
      if (job.running) await new Promise((r) => setTimeout(r, 200));
    }
    expect(job).toMatchObject({ status: 'completed', report: { created: 2, invalid: 1 } });
    const page = await (await fetch(rt.url + jobPath, { headers: { cookie } })).text();
    expect(page).toContain('2 created');
    expect(page).toContain('Line 4');
    // A running job's page reloads itself without JavaScript; a finished one does not.
    expect(page).not.toContain('http-equiv="refresh"');
  });

  it('refuses an import without a file with a 400 page', async () => {
    const { cookie } = await sharedSession();
    const body = new FormData();
    body.set('_csrf', await csrfOf(cookie));
    const res = await fetch(`${rt.url}/admin/subscribers/import`, { method: 'POST', headers: { cookie, origin: rt.url }, body });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Choose a CSV file to import.');
  });

  it('shows the API’s refusal when a send cannot be resumed, and a dry run counts the audience without sending', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const created = await postForm('/admin/sends', { _csrf: token, kind: 'digest', frequency: 'weekly', action: 'dry-run' }, { cookie });
    expect(created.status).toBe(303);
    const sendPath = created.headers.get('location')!;
    const deadline = Date.now() + 20_000;
    let send: { status: string; running: boolean; dryRun: boolean; counts: { submitted: number } } | undefined;
    do {
      send = (await (await fetch(`${rt.url}${sendPath}.json`, { headers: { cookie } })).json()) as typeof send;
      if (send!.running) await new Promise((r) => setTimeout(r, 200));
    } while (send!.running && Date.now() < deadline);
    expect(send).toMatchObject({ status: 'completed', dryRun: true, counts: { submitted: 0 } });
    const resume = await postForm(`${sendPath}/resume`, { _csrf: token }, { cookie });
    expect(resume.status).toBe(409);
    expect(await resume.text()).toMatch(/class="alert" role="alert">/);
  });
});

describe('console send form', () => {
  it('makes the dry run the form’s default button, so Enter in a field never sends for real', async () => {
    const { cookie } = await sharedSession();
    const html = await (await fetch(`${rt.url}/admin/sends`, { headers: { cookie } })).text();
    const form = html.slice(html.indexOf('<form method="post" action="/admin/sends"'));
    expect(/<button type="submit"[^>]*value="([^"]+)"/.exec(form)?.[1]).toBe('dry-run');
  });
});

describe('console send controls', () => {
  it('cancels a running send and resumes it, which then completes with everyone submitted once', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const rows = Array.from({ length: 60 }, (_, i) => `reader${i}@example.net,weekly`).join('\n');
    expect(
      (
        await rt.api('/api/subscribers/import?consent=confirmed', {
          method: 'POST',
          headers: { 'content-type': 'text/csv' },
          body: `email,frequency\n${rows}\n`,
        })
      ).status,
    ).toBe(200);
    // Weekly subscribers of earlier tests in this runtime are in the audience too.
    const weekly = (await (await rt.api('/api/subscribers/counts')).json()).byFrequency.weekly as number;
    expect(weekly).toBeGreaterThanOrEqual(60);
    const article = await (await rt.api('/api/articles', { method: 'POST', json: { title: 'Long send', body: 'Many readers', status: 'published' } })).json();
    const post = (path: string, fields: Record<string, string>) => postForm(path, { _csrf: token, ...fields }, { cookie });
    const created = await post('/admin/sends', { kind: 'article', articleId: article.id, frequency: 'weekly', action: 'send' });
    expect(created.status).toBe(303);
    const sendPath = created.headers.get('location')!;
    const read = async () =>
      (await (await fetch(`${rt.url}${sendPath}.json`, { headers: { cookie } })).json()) as {
        status: string;
        running: boolean;
        canResume: boolean;
        counts: Record<string, number>;
      };
    // The page of a running send reloads itself when JavaScript is off.
    expect(await (await fetch(rt.url + sendPath, { headers: { cookie } })).text()).toContain('<noscript><meta http-equiv="refresh" content="3"></noscript>');
    expect((await post(`${sendPath}/cancel`, {})).status).toBe(303);
    let send = await read();
    expect(send.status).toBe('cancelled');
    expect(send.canResume).toBe(true);
    expect(send.counts.submitted).toBeLessThan(weekly);
    // Batches in flight when it was cancelled may still be settling: the API then says to try again (409), as a person would.
    let resumed = await post(`${sendPath}/resume`, {});
    for (let i = 0; resumed.status === 409 && i < 20; i++) {
      expect(await resumed.text()).toContain('try again');
      await new Promise((r) => setTimeout(r, 250));
      resumed = await post(`${sendPath}/resume`, {});
    }
    expect(resumed.status).toBe(303);
    const deadline = Date.now() + 30_000;
    do {
      await new Promise((r) => setTimeout(r, 250));
      send = await read();
    } while (send.running && Date.now() < deadline);
    expect(send.status).toBe('completed');
    expect(send.counts).toMatchObject({ planned: weekly, submitted: weekly, failed: 0, uncertain: 0 });
  }, 60_000);
});

describe('console and bad input', () => {
  it('answers malformed, oversized or odd requests to every console POST with a 4xx, never a 5xx', async () => {
    const { cookie } = await sharedSession();
    const token = await csrfOf(cookie);
    const paths = [
      '/admin/articles',
      '/admin/articles/abc',
      '/admin/preview/article',
      '/admin/preview/article-email',
      '/admin/preview/email',
      '/admin/subscribers/import',
      '/admin/subscribers/abc/erase',
      '/admin/sends',
      '/admin/sends/abc/cancel',
      '/admin/sends/abc/resume',
    ];
    const bodies: [string, Record<string, string>, string | Uint8Array][] = [
      ['multipart without boundary', { 'content-type': 'multipart/form-data' }, `_csrf=${token}`],
      ['JSON', { 'content-type': 'application/json', 'x-csrf-token': token }, '{"title":1}'],
      ['no body', { 'x-csrf-token': token }, ''],
      [
        'form with odd fields',
        { 'content-type': FORM },
        form({
          _csrf: token,
          action: 'schedule',
          publishAt: 'yesterday',
          kind: 'article',
          articleId: '../x',
          title: '\u0000',
          body: '\u202e',
          tags: ','.repeat(500),
        }),
      ],
      ['too large', { 'content-type': FORM }, form({ _csrf: token, body: 'x'.repeat(2 * 1024 * 1024) })],
    ];
    const report: string[] = [];
    for (const path of paths) {
      for (const [label, headers, body] of bodies) {
        const res = await fetch(rt.url + path, { method: 'POST', redirect: 'manual', headers: { cookie, origin: rt.url, ...headers }, body });
        if (res.status >= 500) report.push(`${path} ${label}: ${res.status} ${(await res.text()).slice(0, 200)}`);
      }
    }
    expect(report).toEqual([]);
  }, 60_000);
});

describe('console sign-in rate limit', () => {
  it('after 10 attempts from one network, answers 429 with Retry-After, even for the right key', async () => {
    const limited = await startTestRuntime();
    try {
      const post = (key: string) =>
        fetch(`${limited.url}/admin/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': FORM }, body: form({ key }) });
      for (let i = 0; i < 10; i++) expect((await post(`wrong-${i}`)).status).toBe(401);
      const res = await post(TEST_KEY);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('set-cookie')).toBeNull();
    } finally {
      await limited.cleanup();
    }
  }, 60_000);
});

describe('API added for the console', () => {
  it('GET /api/subscribers/growth counts the day\u2019s confirmations and erasures, 30 or 90 days, and refuses other windows', async () => {
    const today = async () => (await (await rt.api('/api/subscribers/growth?days=30')).json()).items.at(-1);
    const before = await today();
    const imported = await rt.api('/api/subscribers/import?consent=confirmed', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'email\ngrow1@example.com\ngrow2@example.com\ngrow3@example.com\n',
    });
    expect(imported.status).toBe(200);
    const pending = await rt.api('/api/subscribers/import', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'email\ngrow-pending@example.com\n',
    });
    expect(pending.status).toBe(200);
    for (const email of ['grow3@example.com', 'grow-pending@example.com']) {
      const found = await (await rt.api(`/api/subscribers?email=${email}`)).json();
      expect((await rt.api(`/api/subscribers/${found.items[0].id}`, { method: 'DELETE' })).status).toBe(204);
    }
    // Three joined the confirmed list and one of them was erased; the pending one was never on it.
    const after = await today();
    expect({ confirmed: after.confirmed - before.confirmed, erased: after.erased - before.erased, net: after.net - before.net }).toEqual({
      confirmed: 3,
      erased: 1,
      net: 2,
    });
    const res = await rt.api('/api/subscribers/growth?days=30');
    expect(res.status).toBe(200);
    const g = await res.json();
    expect(g.items).toHaveLength(30);
    expect(g.to).toBe(new Date().toISOString().slice(0, 10));
    expect(g.totals.net).toBe(g.totals.confirmed - g.totals.unsubscribed - g.totals.suppressed - g.totals.erased);
    expect((await (await rt.api('/api/subscribers/growth?days=90')).json()).items).toHaveLength(90);
    expect((await rt.api('/api/subscribers/growth?days=7')).status).toBe(400);
    expect((await rt.get('/api/subscribers/growth')).status).toBe(401);
    const doc = await (await rt.get('/api/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/subscribers/growth', '/api/subscribers/{id}/sends']));
  });

  it('GET /api/subscribers/{id}/sends lists what was sent to them; 404 for nobody', async () => {
    const found = await (await rt.api('/api/subscribers?email=grow1@example.com')).json();
    const id = found.items[0].id as string;
    const article = await rt.api('/api/articles', { method: 'POST', json: { title: 'For history', body: 'Hello', status: 'published' } });
    expect(article.status).toBe(201);
    const send = await (
      await rt.api('/api/sends', { method: 'POST', json: { kind: 'article', articleId: (await article.json()).id, frequency: 'all' } })
    ).json();
    const deadline = Date.now() + 20_000;
    let items: { sendId: string; state: string }[] = [];
    while (Date.now() < deadline) {
      items = (await (await rt.api(`/api/subscribers/${id}/sends`)).json()).items;
      if (items.some((h) => h.sendId === send.id && h.state === 'submitted')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(items.find((h) => h.sendId === send.id)).toMatchObject({ kind: 'article', state: 'submitted' });
    expect((await rt.api('/api/subscribers/nobody0000/sends')).status).toBe(404);
    const page = await (await rt.api(`/api/subscribers/${id}/sends?limit=1`)).json();
    expect(page.items).toHaveLength(1);
    for (const bad of ['limit=0', 'limit=101', 'cursor=e30', `cursor=${encodeURIComponent(Buffer.from('{"PK":"x"}').toString('base64url'))}`]) {
      const res = await rt.api(`/api/subscribers/${id}/sends?${bad}`);
      expect(res.status, bad).toBe(400);
      expect((await res.json()).error.code).toBe('request.invalid');
    }
  }, 40_000);
});
