/** URL-safe slug: lower case ASCII letters, digits and single hyphens, at most `max` characters. */
export function slugify(text: string, max = 80): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’'‘`]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '');
  const ascii = s.replace(/[^a-z0-9-]/g, (c) => encodeURIComponent(c).toLowerCase().replace(/%/g, ''));
  const cut = ascii.slice(0, max).replace(/-+$/g, '');
  return cut || 'untitled';
}
