/**
 * The one HTML escaper: archive pages, site pages, email personalisation, the sanitized article body and
 * the API reference page all escape through it.
 *
 * `context` says where the text goes. `any` (the default) escapes `& < > " '`, safe in element text and in
 * an attribute quoted either way. `text` (element text) and `attribute` (a double-quoted attribute) escape
 * only what that place needs, as sanitize-html writes them, so sanitized markup serialized again comes out
 * byte for byte as it went in.
 *
 * Self-contained on purpose (no outer references): the API reference page ships its source to the browser.
 */
export function escapeHtml(value: string, context: 'any' | 'text' | 'attribute' = 'any'): string {
  const special = context === 'text' ? /[&<>]/g : context === 'attribute' ? /[&<>"]/g : /[&<>"']/g;
  return value.replace(special, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}
