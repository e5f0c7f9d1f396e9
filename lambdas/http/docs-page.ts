import { escapeHtml } from '../core/html.ts';

/**
 * A readable API reference rendered in the browser from the OpenAPI document, with no third-party
 * script: operations grouped by tag, their parameters, bodies and answers.
 */
export function docsPage(specUrl: string): string {
  const href = escapeHtml(specUrl);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inkwire API reference</title>
<style>
:root { color-scheme: light dark; --fg:#1b1b1f; --bg:#fff; --muted:#5b5b66; --line:#e3e3e8; --accent:#0b5cad; }
@media (prefers-color-scheme: dark) { :root { --fg:#ececf1; --bg:#131316; --muted:#a0a0ab; --line:#2c2c33; --accent:#7ab7ff; } }
body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 60rem; padding: 1.5rem; }
h1 { margin-top: 0 } h2 { border-bottom: 1px solid var(--line); padding-bottom: .3rem; margin-top: 2rem }
details { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; padding: .5rem .75rem }
summary { cursor: pointer; font-weight: 600 } code, pre { font: 14px/1.4 ui-monospace, monospace }
pre { background: color-mix(in srgb, var(--line) 40%, transparent); padding: .75rem; overflow: auto; border-radius: 4px }
.m { display: inline-block; min-width: 4.5rem; color: var(--accent) } .muted { color: var(--muted) }
</style>
</head>
<body>
<main>
<h1>Inkwire API reference</h1>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. The machine-readable document is at <a href="${href}">${href}</a> (OpenAPI 3.1).</p>
<div id="ops"><p class="muted">Loading…</p></div>
</main>
<script>
(async () => {
  const spec = await (await fetch(${JSON.stringify(specUrl)})).json();
  const esc = (s) => (${String(escapeHtml)})(String(s ?? ''));
  const resolve = (s) => (s && s.$ref ? spec.components.schemas[s.$ref.split('/').pop()] : s);
  const show = (s) => esc(JSON.stringify(resolve(s), (k, v) => (v && v.$ref ? '→ ' + v.$ref.split('/').pop() : v), 2));
  const groups = {};
  for (const [path, ops] of Object.entries(spec.paths)) for (const [method, op] of Object.entries(ops)) (groups[(op.tags || ['Other'])[0]] ??= []).push({ path, method, op });
  let html = '';
  for (const [tag, list] of Object.entries(groups)) {
    html += '<h2>' + esc(tag) + '</h2>';
    for (const { path, method, op } of list) {
      html += '<details><summary><span class="m">' + method.toUpperCase() + '</span><code>' + esc(path) + '</code> — ' + esc(op.summary) + '</summary>';
      if (op.description) html += '<p>' + esc(op.description) + '</p>';
      if (op.parameters?.length) html += '<p><strong>Parameters</strong></p><ul>' + op.parameters.map((p) => '<li><code>' + esc(p.name) + '</code> (' + esc(p.in) + (p.required ? ', required' : '') + ') ' + esc(p.description || '') + '</li>').join('') + '</ul>';
      const body = op.requestBody?.content && Object.entries(op.requestBody.content)[0];
      if (body) html += '<p><strong>Body</strong> <code>' + esc(body[0]) + '</code></p><pre>' + show(body[1].schema) + '</pre>';
      html += '<p><strong>Responses</strong></p><ul>' + Object.entries(op.responses).map(([s, r]) => '<li><code>' + s + '</code> ' + esc(r.description) + '</li>').join('') + '</ul></details>';
    }
  }
  document.getElementById('ops').innerHTML = html;
})();
</script>
</body>
</html>`;
}
