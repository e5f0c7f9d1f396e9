/**
 * Feed renderers: pure functions from a FeedDocument to the text of one format.
 * Identical input gives byte-identical output; nothing here reads the clock or the environment.
 */
import type { FeedDocument, FeedFormat } from './model.ts';
import { renderAtom } from './render-atom.ts';
import { renderJson } from './render-json.ts';
import { renderRss } from './render-rss.ts';

export { renderAtom } from './render-atom.ts';
export { renderJson, toJsonFeed } from './render-json.ts';
export { renderRss } from './render-rss.ts';
export { CONTENT_TYPES } from './model.ts';
export type { FeedCategory, FeedDocument, FeedEntry, FeedFormat, FeedPerson, FormatLinks } from './model.ts';

/** Renders `doc` in `format` (serve it with `CONTENT_TYPES[format]`). */
export function renderFeed(doc: FeedDocument, format: FeedFormat): string {
  switch (format) {
    case 'rss':
      return renderRss(doc);
    case 'atom':
      return renderAtom(doc);
    case 'json':
      return renderJson(doc);
    default: {
      const unknown: never = format;
      throw new TypeError(`Unknown feed format: ${String(unknown)}`);
    }
  }
}
