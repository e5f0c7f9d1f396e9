/**
 * The local outbox page (`/_dev/outbox`): the messages the local SES endpoint kept, newest first, each
 * with its headers, text and HTML. Local only: no AWS composition root mounts this.
 */
import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { listOutbox, readOutboxMessage } from './outbox-store.ts';
import { decodeHeaderValue, parseMessage } from './mime-reader.ts';

/** What the HTML part may do inside the viewer: show inline styles and remote images, nothing else. */
const MESSAGE_HTML_CSP = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; font-src https: data:; sandbox";

const PAGE_STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:0;padding:1rem 1.5rem;color:#1d1d1f;background:#fff}
@media (prefers-color-scheme:dark){body{color:#eee;background:#161618}a{color:#8ab4f8}}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #8884;vertical-align:top}
th{font-weight:600}pre{white-space:pre-wrap;background:#8881;padding:.75rem;border-radius:4px}
iframe{width:100%;height:70vh;border:1px solid #8886;background:#fff}nav{margin:1rem 0}code{font-size:12px}`;

export interface OutboxAppOptions {
  /** Where the app is mounted, for absolute links. Default `/_dev/outbox`. */
  basePath?: string;
}

/**
 * The local-only outbox page as a Hono sub-app: `GET /` (newest first, `?before=<id>&limit=`),
 * `GET /:id` (headers, text part, HTML part in a sandboxed iframe), `GET /:id/html` (the HTML part under a
 * CSP that allows no script and no network but images), `GET /:id/raw` (the `.eml`).
 *
 * @example
 * ```ts
 * app.route('/_dev/outbox', createOutboxApp('.data/outbox'));
 * ```
 */
export function createOutboxApp(outboxDir: string, options: OutboxAppOptions = {}): Hono {
  const base = (options.basePath ?? '/_dev/outbox').replace(/\/$/, '');
  const app = new Hono();
  const page = (title: string, body: unknown) =>
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="robots" content="noindex"><title>${title}</title><style>${raw(PAGE_STYLE)}</style></head><body>${body}</body></html>`;

  app.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
    c.header('X-Content-Type-Options', 'nosniff');
    if (!c.res.headers.get('Content-Security-Policy')) {
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; img-src 'self'");
    }
  });

  app.get('/', async (c) => {
    const limit = Number(c.req.query('limit') ?? 50) || 50;
    const before = c.req.query('before');
    const { entries, next } = await listOutbox(outboxDir, { limit, ...(before ? { before } : {}) });
    const rows = entries.map(
      (e) =>
        html`<tr><td><a href="${base}/${e.messageId}">${e.receivedAt?.replace('T', ' ').slice(0, 19) ?? e.messageId}</a></td><td>${e.to ?? e.destinations?.join(', ') ?? ''}</td><td>${e.subject ?? ''}</td><td>${e.configurationSet ?? ''}</td></tr>`,
    );
    const body = html`<h1>Outbox</h1><p>Messages the local SES endpoint accepted, newest first.</p>
<table><thead><tr><th>Received (UTC)</th><th>To</th><th>Subject</th><th>Configuration set</th></tr></thead><tbody>${rows}</tbody></table>
${entries.length === 0 ? html`<p>No messages${before ? ' before this point' : ' yet'}.</p>` : ''}
<nav>${before ? html`<a href="${base}/">Newest</a> ` : ''}${next ? html`<a href="${base}/?before=${next}&amp;limit=${limit}">Older →</a>` : ''}</nav>`;
    return c.html(page('Outbox', body));
  });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const found = await readOutboxMessage(outboxDir, id);
    if (!found) return c.html(page('Not found', html`<p>No message ${id}. <a href="${base}/">Back to the outbox</a></p>`), 404);
    const msg = parseMessage(found.raw);
    const headerRows = msg.headers.map(([k, v]) => html`<tr><th>${k}</th><td><code>${decodeHeaderValue(v)}</code></td></tr>`);
    const sc = found.sidecar;
    const body = html`<p><a href="${base}/">← Outbox</a> · <a href="${base}/${id}/raw">Raw .eml</a></p>
<h1>${msg.header('subject') ?? '(no subject)'}</h1>
${
  sc
    ? html`<p>Envelope to <strong>${sc.destinations.join(', ')}</strong> via configuration set <code>${sc.configurationSet ?? '(none)'}</code>; tags <code>${Object.entries(
        sc.tags,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}</code>; ${sc.bytes} bytes.</p>`
    : ''
}
<h2>HTML part</h2>${msg.html !== undefined ? html`<iframe sandbox title="HTML part" src="${base}/${id}/html"></iframe>` : html`<p>(none)</p>`}
<h2>Text part</h2><pre>${msg.text ?? '(none)'}</pre>
<h2>Headers</h2><table>${headerRows}</table>`;
    return c.html(page(msg.header('subject') ?? id, body));
  });

  app.get('/:id/html', async (c) => {
    const found = await readOutboxMessage(outboxDir, c.req.param('id'));
    const htmlPart = found ? parseMessage(found.raw).html : undefined;
    if (htmlPart === undefined) return c.text('No HTML part', 404);
    c.header('Content-Security-Policy', MESSAGE_HTML_CSP);
    c.header('Referrer-Policy', 'no-referrer');
    return c.html(htmlPart);
  });

  app.get('/:id/raw', async (c) => {
    const found = await readOutboxMessage(outboxDir, c.req.param('id'));
    if (!found) return c.text('Not found', 404);
    // text/plain so the browser shows the bytes instead of handing them to a mail client.
    return c.body(new Uint8Array(found.raw), 200, { 'Content-Type': 'text/plain; charset=utf-8' });
  });

  return app;
}
