import { describe, expect, it, vi } from 'vitest';
import { renderAtom, renderFeed, renderJson, renderRss } from '../../lambdas/core/feeds/index.ts';
import type { FeedDocument, FeedEntry, FeedFormat, FormatLinks } from '../../lambdas/core/feeds/model.ts';
import { type ParsedFeed, parseWithFeedparser, validateAtomWithSchema, validateJsonFeed11, xmlWellFormed } from '../support/feed-validators.ts';

const SITE = 'https://news.example.com';
const FORMATS: FeedFormat[] = ['rss', 'atom', 'json'];
const XML_FORMATS = ['rss', 'atom'] as const;

const links = (path: string): FormatLinks => ({
  rss: `${SITE}/feeds/${path}.rss`,
  atom: `${SITE}/feeds/${path}.atom`,
  json: `${SITE}/feeds/${path}.json`,
});

const SAMPLE_HTML =
  '<h2>Why “smart” quotes matter</h2>' +
  '<p>It’s a long road — and we’re on it. Here’s <a href="https://news.example.com/2024/02/road">the map</a>.</p>' +
  '<h3>What’s next</h3><ul><li>One</li><li>Two</li></ul>' +
  '<blockquote><p>“We’ll see,” she said.</p></blockquote>';

function entry(n: number, overrides: Partial<FeedEntry> = {}): FeedEntry {
  const day = String(n).padStart(2, '0');
  return {
    id: `tag:news.example.com,2024:article/a${n}`,
    title: `Article ${n}`,
    url: `${SITE}/2024/02/article-${n}`,
    contentHtml: `<p>Body of article ${n}.</p>`,
    summary: `Summary of article ${n}.`,
    publishedAt: `2024-02-${day}T10:00:00.000Z`,
    updatedAt: `2024-02-${day}T11:00:00.000Z`,
    authors: [{ name: 'Jane Doe', email: 'jane@news.example.com', url: `${SITE}/authors/jane-doe` }],
    categories: [{ label: 'Middle East', term: 'middle-east', scheme: `${SITE}/tags/` }],
    ...overrides,
  };
}

function feedDoc(overrides: Partial<FeedDocument> = {}): FeedDocument {
  return {
    kind: 'subscription',
    id: 'tag:news.example.com,2024:feed/all',
    title: 'The Example News',
    description: 'Independent news from nowhere in particular',
    language: 'en-US',
    homeUrl: `${SITE}/`,
    self: links('all'),
    updated: '2024-02-11T11:00:00.000Z',
    copyright: '© 2024 The Example News',
    generator: { name: 'Inkwire', uri: 'https://inkwire.example.com/', version: '0.1.0' },
    iconUrl: `${SITE}/icon.png`,
    logoUrl: `${SITE}/logo.png`,
    entries: [entry(11, { title: 'Why “smart” quotes matter — a guide 📰', contentHtml: SAMPLE_HTML }), entry(10)],
    ...overrides,
  };
}

const render = (doc: FeedDocument, format: FeedFormat) => renderFeed(doc, format);

/** Renders every format, checks each with the real validators and returns feedparser's reading. */
function renderAndParse(doc: FeedDocument): Record<FeedFormat, { text: string; parsed: ParsedFeed }> {
  const out = {} as Record<FeedFormat, { text: string; parsed: ParsedFeed }>;
  for (const format of FORMATS) {
    const text = render(doc, format);
    if (format === 'json') {
      expect(validateJsonFeed11(JSON.parse(text)), 'JSON Feed 1.1').toEqual({ ok: true, errors: [] });
    } else {
      expect(xmlWellFormed(text), `${format} well-formed`).toEqual({ ok: true, errors: [] });
    }
    if (format === 'atom') expect(validateAtomWithSchema(text), 'RFC 4287 schema').toEqual({ ok: true, errors: [] });
    const parsed = parseWithFeedparser(text);
    expect(parsed.bozo, `${format} bozo: ${parsed.bozoException}`).toBe(false);
    out[format] = { text, parsed };
  }
  expect(out.rss.parsed.version).toBe('rss20');
  expect(out.atom.parsed.version).toBe('atom10');
  expect(out.json.parsed.version).toBe('https://jsonfeed.org/version/1.1');
  return out;
}

const htmlDecode = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

/** The RFC 2396 characters the W3C Feed Validator accepts in a full URL (rfc2396_full). */
const RFC2396_FULL = /^[a-zA-Z][0-9a-zA-Z+\-.]*:(\/\/)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$/;

describe('feed renderers', () => {
  it('keeps curly quotes, em dashes and headings intact in every format', () => {
    const doc = feedDoc();
    const first = doc.entries[0]!;
    const all = renderAndParse(doc);
    for (const format of FORMATS) {
      const { parsed } = all[format];
      expect(parsed.feed.title, format).toBe('The Example News');
      expect(
        parsed.entries.map((e) => e.id),
        format,
      ).toEqual(doc.entries.map((e) => e.id));
      expect(parsed.entries[0]!.title, format).toBe('Why “smart” quotes matter — a guide 📰');
      expect(parsed.entries[0]!.link, format).toBe(first.url);
      expect(parsed.entries[0]!.content, format).toEqual([SAMPLE_HTML]);
    }
    expect(all.atom.parsed.entries[0]!.summary).toBe(first.summary);
    expect(htmlDecode(all.rss.parsed.entries[0]!.summary ?? '')).toBe(first.summary);
    expect(all.json.parsed.entries[0]!.summary).toBe(first.summary);
  });

  it('escapes a title with markup characters so every reader shows it literally', () => {
    const title = 'Use the <b> tag & more';
    const summary = 'Write <em> & </em> yourself';
    const doc = feedDoc({ entries: [entry(11, { title, summary })], description: 'News & <views>' });
    const all = renderAndParse(doc);
    for (const format of FORMATS) {
      expect(all[format].parsed.entries[0]!.title, format).toBe(title);
    }
    // Readers take the RSS channel description as HTML, Atom's subtitle and JSON's description as text.
    expect(htmlDecode(all.rss.parsed.feed.subtitle ?? '')).toBe('News & <views>');
    expect(all.atom.parsed.feed.subtitle).toBe('News & <views>');
    expect(all.json.parsed.feed.subtitle).toBe('News & <views>');
    for (const format of XML_FORMATS) {
      const { text } = all[format];
      expect(text, format).not.toContain('<b>');
      // RSS Best Practices Profile: `&` and `<` in plain text as hexadecimal references (W3C validator: CharacterData).
      expect(text, format).toContain('Use the &#x3C;b&gt; tag &#x26; more');
    }
    expect(all.atom.parsed.entries[0]!.summary).toBe(summary);
    expect(htmlDecode(all.rss.parsed.entries[0]!.summary ?? '')).toBe(summary);
    expect(JSON.parse(all.json.text).items[0].title).toBe(title);
  });

  it('strips characters XML 1.0 forbids, C1 controls and U+FFFD from every output, keeping valid pairs', () => {
    const dirty = 'A\u0000B\u0008C\u000BD\u001FE\uFFFEF\uFFFFG\uD800H\uDC00I\u0085J\u009FK\uFFFDL\u007FM \uD83D\uDE00 N\tO';
    const clean = 'ABCDEFGHIJKLM \uD83D\uDE00 N\tO';
    const doc = feedDoc({
      title: `Feed ${dirty}`,
      entries: [
        entry(11, {
          title: dirty,
          summary: dirty,
          contentHtml: `<p>${dirty}</p>`,
          authors: [{ name: `Jane ${dirty}` }],
          categories: [{ label: dirty, term: 'dirty', scheme: `${SITE}/tags/` }],
        }),
      ],
    });
    const all = renderAndParse(doc);
    const unwanted =
      /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    for (const format of FORMATS) {
      const { text, parsed } = all[format];
      expect(unwanted.test(text), format).toBe(false);
      expect(parsed.feed.title, format).toBe(`Feed ${clean}`);
      expect(parsed.entries[0]!.title, format).toBe(clean);
      expect(parsed.entries[0]!.content, format).toEqual([`<p>${clean}</p>`]);
      expect(parsed.entries[0]!.authors[0]!.name, format).toBe(`Jane ${clean}`);
    }
    expect(all.atom.parsed.entries[0]!.tags[0]!.label).toBe(clean);
    expect(JSON.parse(all.json.text).items[0].tags).toEqual([clean]);
  });

  it('renders an empty feed that every validator accepts', () => {
    const doc = feedDoc({ entries: [] });
    const all = renderAndParse(doc);
    for (const format of FORMATS) expect(all[format].parsed.entries, format).toEqual([]);
    expect(JSON.parse(all.json.text).items).toEqual([]);
    expect(all.atom.text).not.toContain('<entry>');
    expect(all.rss.text).not.toContain('<item>');
  });

  it('links an archive page to the older and newer pages and the current document (RFC 5005)', () => {
    const doc = feedDoc({
      kind: 'archive',
      self: links('all/2024-02'),
      current: links('all'),
      prevArchive: links('all/2024-01'),
      nextArchive: links('all/2024-03'),
    });
    const all = renderAndParse(doc);
    for (const format of XML_FORMATS) {
      const rels = Object.fromEntries(all[format].parsed.feed.links.map((l) => [l.rel, l]));
      expect(rels.current, format).toMatchObject({ href: doc.current![format] });
      expect(rels['prev-archive'], format).toMatchObject({ href: doc.prevArchive![format] });
      expect(rels['next-archive'], format).toMatchObject({ href: doc.nextArchive![format] });
      expect(all[format].text, format).toContain('xmlns:fh="http://purl.org/syndication/history/1.0"');
      expect(all[format].text.match(/<fh:archive\/>/g), format).toHaveLength(1);
      // RFC 5005 relations are feed-level only (W3C validator: FeedHistoryRelInEntry).
      const firstEntry = all[format].text.search(/<(item|entry)>/);
      expect(all[format].text.lastIndexOf('archive"'), format).toBeLessThan(firstEntry);
    }
    expect(JSON.parse(all.json.text).next_url).toBe(doc.prevArchive!.json);

    // The subscription document: no fh:archive, no links it was not given.
    const sub = renderAndParse(feedDoc({ prevArchive: links('all/2024-02') }));
    for (const format of XML_FORMATS) {
      expect(sub[format].text, format).not.toContain('<fh:archive');
      expect(sub[format].parsed.feed.links.map((l) => l.rel).sort(), format).toEqual(
        format === 'rss' ? ['alternate', 'prev-archive', 'self'] : ['alternate', 'prev-archive', 'self'],
      );
    }
    expect(JSON.parse(sub.json.text).next_url).toBe(`${SITE}/feeds/all/2024-02.json`);
    expect(JSON.parse(render(feedDoc(), 'json'))).not.toHaveProperty('next_url');
  });

  it('advertises the WebSub hub when there is one, and only then', () => {
    const hub = 'https://hub.example.net/';
    const all = renderAndParse(feedDoc({ hub }));
    for (const format of XML_FORMATS) {
      expect(
        all[format].parsed.feed.links.filter((l) => l.rel === 'hub').map((l) => l.href),
        format,
      ).toEqual([hub]);
    }
    expect(JSON.parse(all.json.text).hubs).toEqual([{ type: 'WebSub', url: hub }]);

    const none = renderAndParse(feedDoc());
    for (const format of XML_FORMATS)
      expect(
        none[format].parsed.feed.links.some((l) => l.rel === 'hub'),
        format,
      ).toBe(false);
    expect(JSON.parse(none.json.text)).not.toHaveProperty('hubs');
  });

  it('writes every category with its term (Atom), domain (RSS) and label, and drops blank terms', () => {
    const doc = feedDoc({
      entries: [
        entry(11, {
          categories: [
            { label: 'Middle East', term: 'middle-east', scheme: `${SITE}/tags/` },
            { label: 'Nothing', term: '  ', scheme: `${SITE}/tags/` },
            { label: '', term: 'economy', scheme: `${SITE}/tags/` },
          ],
        }),
      ],
    });
    const all = renderAndParse(doc);
    expect(all.atom.parsed.entries[0]!.tags).toEqual([
      { term: 'middle-east', scheme: `${SITE}/tags/`, label: 'Middle East' },
      { term: 'economy', scheme: `${SITE}/tags/`, label: 'economy' },
    ]);
    expect(all.atom.text).not.toMatch(/<category(?![^>]*\bterm="[^"]+")/);
    expect(all.rss.parsed.entries[0]!.tags).toEqual([
      { term: 'Middle East', scheme: `${SITE}/tags/`, label: null },
      { term: 'economy', scheme: `${SITE}/tags/`, label: null },
    ]);
    expect(JSON.parse(all.json.text).items[0].tags).toEqual(['Middle East', 'economy']);
  });

  describe('RSS authors', () => {
    const rssItem = (authors: FeedEntry['authors']) => {
      const text = renderRss(feedDoc({ entries: [entry(11, { authors })] }));
      expect(xmlWellFormed(text).ok).toBe(true);
      const parsed = parseWithFeedparser(text);
      expect(parsed.bozo).toBe(false);
      return { item: text.slice(text.indexOf('<item>')), parsed: parsed.entries[0]! };
    };

    it('writes a single author with a valid address as `address (name)` and no dc:creator', () => {
      const { item, parsed } = rssItem([{ name: 'Jane Doe', email: 'jane@news.example.com' }]);
      expect(item).toContain('<author>jane@news.example.com (Jane Doe)</author>');
      expect(item).not.toContain('<dc:creator>');
      expect(parsed.authors).toEqual([{ name: 'Jane Doe', email: 'jane@news.example.com', href: null }]);
    });

    it('writes names without an address as dc:creator, one per author, and no <author>', () => {
      const { item, parsed } = rssItem([{ name: 'Jane Doe' }, { name: 'Omar (O.) Haddad', email: 'omar@news.example.com' }]);
      expect(item).not.toContain('<author>');
      expect(item.match(/<dc:creator>[^<]*<\/dc:creator>/g)).toEqual(['<dc:creator>Jane Doe</dc:creator>', '<dc:creator>Omar (O.) Haddad</dc:creator>']);
      expect(parsed.authors.map((a) => a.name)).toEqual(['Jane Doe', 'Omar (O.) Haddad']);
    });

    it('never writes an address that is not one, and keeps the comment syntax intact', () => {
      const bad = rssItem([{ name: 'Jane Doe', email: 'not an address' }]);
      expect(bad.item).not.toContain('<author>');
      expect(bad.item).toContain('<dc:creator>Jane Doe</dc:creator>');
      const parens = rssItem([{ name: 'Omar (O.) Haddad', email: 'omar@news.example.com' }]);
      expect(parens.item).toContain('<author>omar@news.example.com (Omar O. Haddad)</author>');
      expect(parens.parsed.authors[0]).toMatchObject({ email: 'omar@news.example.com' });
    });

    it('writes no author element at all for an entry without authors', () => {
      const { item } = rssItem([]);
      expect(item).not.toMatch(/<author>|<dc:creator>/);
    });
  });

  it('gives Atom a feed-level author exactly when an entry has none, so the schema rules always hold', () => {
    const withAuthors = renderAtom(feedDoc());
    expect(validateAtomWithSchema(withAuthors).ok).toBe(true);
    expect(withAuthors.slice(0, withAuthors.indexOf('<entry>'))).not.toContain('<author>');

    const doc = feedDoc({ entries: [entry(11), entry(10, { authors: [{ name: '   ' }] })] });
    const mixed = renderAtom(doc);
    expect(validateAtomWithSchema(mixed)).toEqual({ ok: true, errors: [] });
    expect(parseWithFeedparser(mixed).feed.authors).toEqual([{ name: 'The Example News', email: null, href: `${SITE}/` }]);

    // The schema check itself fails once that author is gone.
    const stripped = mixed.replace(/<author><name>The Example News<\/name><uri>[^<]*<\/uri><\/author>\n/, '');
    expect(stripped).not.toBe(mixed);
    const result = validateAtomWithSchema(stripped);
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toContain('must have an atom:author');

    // JSON Feed: the same top-level author, inherited by items without authors.
    const json = JSON.parse(renderJson(doc));
    expect(json.authors).toEqual([{ name: 'The Example News', url: `${SITE}/` }]);
    expect(json.items[1]).not.toHaveProperty('authors');
    expect(JSON.parse(renderJson(feedDoc()))).not.toHaveProperty('authors');
  });

  it('writes Atom person constructs with name, a valid email and uri', () => {
    const doc = feedDoc({
      entries: [
        entry(11, {
          authors: [
            { name: 'Jane Doe', email: 'jane@news.example.com', url: `${SITE}/authors/jane-doe` },
            { name: 'Omar Haddad', email: 'omar at example' },
          ],
        }),
      ],
    });
    const { atom, json } = renderAndParse(doc);
    expect(atom.text).toContain(
      `<author><name>Jane Doe</name><email>jane@news.example.com</email><uri>${SITE}/authors/jane-doe</uri></author>\n` +
        '<author><name>Omar Haddad</name></author>\n',
    );
    expect(atom.parsed.entries[0]!.authors.map((a) => a.name)).toEqual(['Jane Doe', 'Omar Haddad']);
    expect(atom.parsed.entries[0]!.authors[0]).toEqual({
      name: 'Jane Doe',
      email: 'jane@news.example.com',
      href: `${SITE}/authors/jane-doe`,
    });
    expect(JSON.parse(json.text).items[0].authors).toEqual([{ name: 'Jane Doe', url: `${SITE}/authors/jane-doe` }, { name: 'Omar Haddad' }]);
  });

  it('carries `]]>` inside HTML content safely', () => {
    const html = '<p>Arrays like a[b[0]]&gt;1 and the literal ]]&gt; or ]]> end CDATA.</p>';
    const all = renderAndParse(feedDoc({ entries: [entry(11, { contentHtml: html })] }));
    for (const format of FORMATS) expect(all[format].parsed.entries[0]!.content, format).toEqual([html]);
  });

  it('is byte-identical for identical input', () => {
    const doc = feedDoc({ kind: 'archive', current: links('all'), prevArchive: links('all/2024-01'), hub: 'https://hub.example.net/' });
    for (const format of FORMATS) {
      // Two different "now"s: nothing may depend on the clock.
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
        const a = render(doc, format);
        vi.setSystemTime(new Date('2031-06-15T12:34:56Z'));
        const b = render(structuredClone(doc), format);
        expect(Buffer.from(b).equals(Buffer.from(a)), format).toBe(true);
        expect(a, format).not.toMatch(/2030|2031/);
      } finally {
        vi.useRealTimers();
      }
    }
    expect(Object.keys(JSON.parse(renderJson(doc)))).toEqual([
      'version',
      'title',
      'home_page_url',
      'feed_url',
      'description',
      'next_url',
      'icon',
      'favicon',
      'language',
      'hubs',
      'items',
    ]);
    expect(Object.keys(JSON.parse(renderJson(doc)).items[0])).toEqual([
      'id',
      'url',
      'title',
      'content_html',
      'summary',
      'date_published',
      'date_modified',
      'authors',
      'tags',
    ]);
  });

  it('points rel="self" at the document’s own URL in each format', () => {
    const doc = feedDoc({ self: links('tags/middle-east') });
    const all = renderAndParse(doc);
    const rssSelf = all.rss.parsed.feed.links.filter((l) => l.rel === 'self');
    expect(rssSelf).toEqual([{ rel: 'self', href: doc.self.rss, type: 'application/rss+xml' }]);
    const atomSelf = all.atom.parsed.feed.links.filter((l) => l.rel === 'self');
    expect(atomSelf).toEqual([{ rel: 'self', href: doc.self.atom, type: 'application/atom+xml' }]);
    expect(JSON.parse(all.json.text).feed_url).toBe(doc.self.json);
    expect(all.atom.parsed.feed.links.find((l) => l.rel === 'alternate')).toEqual({
      rel: 'alternate',
      href: doc.homeUrl,
      type: 'text/html',
    });
  });

  it('writes RFC 822 dates in RSS and RFC 3339 dates in Atom and JSON, converting offsets to UTC', () => {
    const doc = feedDoc({
      updated: '2024-02-11T12:30:00+02:00',
      entries: [entry(11, { publishedAt: '2024-02-29T23:59:59.500Z', updatedAt: '2024-03-01T00:00:00Z' })],
    });
    const rss = renderRss(doc);
    expect(rss).toContain('<lastBuildDate>Sun, 11 Feb 2024 10:30:00 +0000</lastBuildDate>');
    expect(rss).toContain('<pubDate>Thu, 29 Feb 2024 23:59:59 +0000</pubDate>');
    const atom = renderAtom(doc);
    expect(atom).toContain('<updated>2024-02-11T10:30:00Z</updated>');
    expect(atom).toContain('<published>2024-02-29T23:59:59.500Z</published>');
    expect(atom).toContain('<updated>2024-03-01T00:00:00Z</updated>');
    expect(validateAtomWithSchema(atom).ok).toBe(true);
    const json = JSON.parse(renderJson(doc));
    expect(json.items[0]).toMatchObject({ date_published: '2024-02-29T23:59:59.500Z', date_modified: '2024-03-01T00:00:00Z' });
    for (const format of FORMATS) {
      expect(() => render(feedDoc({ entries: [entry(11, { publishedAt: '11/02/2024' })] }), format), format).toThrow(RangeError);
      // No offset: local time would depend on the machine's zone.
      expect(() => render(feedDoc({ entries: [entry(11, { publishedAt: '2024-02-11T10:00:00' })] }), format), format).toThrow(RangeError);
    }
    for (const format of XML_FORMATS) expect(() => render(feedDoc({ updated: 'yesterday' }), format), format).toThrow(RangeError);
    // Out-of-range fields are rejected, not rolled over into the next day or month.
    for (const bad of ['2024-02-30T10:00:00Z', '2023-02-29T10:00:00Z', '2024-02-11T24:00:00Z', '2024-02-11T10:00:00+24:00']) {
      expect(() => renderAtom(feedDoc({ entries: [entry(11, { publishedAt: bad })] })), bad).toThrow(RangeError);
    }
  });

  it('writes every URL with RFC 2396 characters only, encoding IRIs', () => {
    const doc = feedDoc({
      homeUrl: 'https://bücher.example/',
      entries: [entry(11, { url: `${SITE}/2024/02/café au lait?q=a|b&r=[1]` })],
    });
    const all = renderAndParse(doc);
    const expected = `${SITE}/2024/02/caf%C3%A9%20au%20lait?q=a%7Cb&r=%5B1%5D`;
    for (const format of FORMATS) expect(all[format].parsed.entries[0]!.link, format).toBe(expected);
    expect(all.atom.parsed.feed.links.find((l) => l.rel === 'alternate')!.href).toBe('https://xn--bcher-kva.example/');
    for (const format of XML_FORMATS) {
      const urls = [...all[format].text.matchAll(/(?:href|uri|domain|scheme)="([^"]*)"|<(?:link|uri|icon|logo)>([^<]*)</g)].map((m) =>
        (m[1] ?? m[2] ?? '').replace(/&#x26;/g, '&'),
      );
      expect(urls.length, format).toBeGreaterThanOrEqual(4);
      for (const url of urls) expect(url, format).toMatch(RFC2396_FULL);
    }
  });

  it('renders the first of entries sharing an id only', () => {
    const doc = feedDoc({ entries: [entry(11), entry(10, { id: entry(11).id, title: 'Duplicate' }), entry(9)] });
    const all = renderAndParse(doc);
    for (const format of FORMATS) {
      expect(
        all[format].parsed.entries.map((e) => e.title),
        format,
      ).toEqual(['Article 11', 'Article 9']);
    }
  });

  it('puts the RSS description before content:encoded and channel metadata before the items', () => {
    const rss = renderRss(feedDoc());
    for (const item of rss.split('<item>').slice(1)) {
      expect(item.indexOf('<description>')).toBeGreaterThan(-1);
      expect(item.indexOf('<description>')).toBeLessThan(item.indexOf('<content:encoded>'));
      expect(item).toMatch(/<guid isPermaLink="false">tag:/);
    }
    const head = rss.slice(0, rss.indexOf('<item>'));
    for (const tag of ['<title>', '<link>', '<description>', '<language>en-US<', '<copyright>', '<lastBuildDate>', '<generator>Inkwire 0.1.0<']) {
      expect(head).toContain(tag);
    }
    expect(rss.slice(rss.indexOf('<item>'))).not.toMatch(/<atom:link|<lastBuildDate>|<fh:/);
  });

  it('renders 50 entries of ~5 KB HTML well under a few milliseconds per format', () => {
    const paragraph = `<p>${'Lorem ipsum “dolor” sit amet — consectetur & adipiscing elit. '.repeat(8)}</p>`;
    const html = `<h2>Heading</h2>${paragraph.repeat(Math.ceil(5000 / paragraph.length))}`;
    expect(html.length).toBeGreaterThan(5000);
    const entries = Array.from({ length: 50 }, (_, i) =>
      entry(1, {
        id: `tag:news.example.com,2024:article/p${i}`,
        title: `Article ${i} <b> & more`,
        contentHtml: html,
        publishedAt: `2024-02-01T10:${String(i).padStart(2, '0')}:00Z`,
        updatedAt: `2024-02-01T11:${String(i).padStart(2, '0')}:00Z`,
      }),
    );
    const doc = feedDoc({ entries });
    for (const format of FORMATS) {
      for (let i = 0; i < 30; i++) render(doc, format);
      const runs = 100;
      const start = process.hrtime.bigint();
      for (let i = 0; i < runs; i++) render(doc, format);
      const msPerRender = Number(process.hrtime.bigint() - start) / 1e6 / runs;
      // Typically well under 1 ms here; the bound leaves room for slow shared CI machines.
      expect(msPerRender, `${format}: ${msPerRender.toFixed(3)} ms`).toBeLessThan(5);
    }
    expect(validateAtomWithSchema(renderAtom(doc)).ok).toBe(true);
  });
});

describe('feed validator helpers', () => {
  it('reject documents that are broken', () => {
    expect(xmlWellFormed('<rss><channel></rss>').ok).toBe(false);
    const atom = renderAtom(feedDoc());
    const noId = atom.replace(/<id>tag:news\.example\.com,2024:feed\/all<\/id>\n/, '');
    expect(noId).not.toBe(atom);
    expect(validateAtomWithSchema(noId).ok).toBe(false);
    expect(validateAtomWithSchema(atom.replace('<title type="text">Article 10', '<title type="bogus">Article 10')).ok).toBe(false);
    expect(parseWithFeedparser('<rss version="2.0"><channel><title>x</channel></rss>').bozo).toBe(true);
  });

  it('hold JSON Feed 1.1 to its MUSTs', () => {
    const good = JSON.parse(renderJson(feedDoc()));
    expect(validateJsonFeed11(good)).toEqual({ ok: true, errors: [] });
    const broken = (patch: (f: Record<string, any>) => void) => {
      const copy = structuredClone(good);
      patch(copy);
      return validateJsonFeed11(copy).ok;
    };
    expect(broken((f) => delete f.items)).toBe(false);
    expect(broken((f) => delete f.title)).toBe(false);
    expect(broken((f) => (f.version = 'https://jsonfeed.org/version/1'))).toBe(false);
    expect(broken((f) => (f.next_url = f.feed_url))).toBe(false);
    expect(broken((f) => delete f.items[0].id)).toBe(false);
    expect(broken((f) => delete f.items[0].content_html)).toBe(false);
    expect(broken((f) => (f.items[0].authors = [{}]))).toBe(false);
    expect(broken((f) => (f.items[0].date_published = '2024-02-11'))).toBe(false);
    expect(broken((f) => (f.hubs = [{ type: 'WebSub' }]))).toBe(false);
    expect(broken((f) => (f.author_name = 'x'))).toBe(false);
    expect(broken((f) => (f.items[1].id = f.items[0].id))).toBe(false);
    expect(broken((f) => (f._inkwire = { about: 'https://inkwire.example.com/' }))).toBe(true);
  });
});
