/**
 * `npm run bench [-- feeds|site|serve|import|delivery ...]` (`site` runs with `feeds`: the same publishes): prints figures measured side by side with a
 * baseline in the same run. Not a pass/fail test.
 */
import { benchFeedRebuild, benchFeedServing } from './feeds.ts';

const wanted = new Set(process.argv.slice(2));
const all = wanted.size === 0;
const line = (s = '') => console.log(s);

if (all || wanted.has('feeds') || wanted.has('site')) {
  line('== Feed rebuild after one publish (site feed: newest 50 + the month page, 3 formats each)');
  const [small, large] = await benchFeedRebuild();
  for (const f of [small!, large!]) {
    line(
      `  ${String(f.articles).padStart(6)} articles stored: rebuild median ${f.rebuildMedianMs.toFixed(1)} ms (p95 ${f.rebuildP95Ms.toFixed(1)} ms); render only ${f.renderOnlyMedianMs.toFixed(2)} ms; feed package render ${f.feedPackageMedianMs.toFixed(2)} ms`,
    );
  }
  line(`  10,000 vs 100: ${(large!.rebuildMedianMs / small!.rebuildMedianMs).toFixed(2)}x (goal: within 1.3x)`);
  line(`  our render vs feed package (same documents): ${(large!.renderOnlyMedianMs / large!.feedPackageMedianMs).toFixed(2)}x the time`);
  line();
  line('== Site pages after the same publish (home, month page, article and its neighbour, sitemap), beside the feed rebuild');
  for (const f of [small!, large!]) {
    line(
      `  ${String(f.articles).padStart(6)} articles stored: site rebuild median ${f.siteRebuildMedianMs.toFixed(1)} ms (p95 ${f.siteRebuildP95Ms.toFixed(1)} ms) vs feed rebuild ${f.rebuildMedianMs.toFixed(1)} ms; documents written per publish ${f.siteWrittenMedian}, rendered unchanged ${f.siteUnchangedMedian}, of ${f.siteStored} pages and sitemaps stored`,
    );
  }
  line(`  10,000 vs 100: ${(large!.siteRebuildMedianMs / small!.siteRebuildMedianMs).toFixed(2)}x (goal: within 1.3x)`);
  line();
}

if (all || wanted.has('serve')) {
  line('== GET /feed.xml, 50 items (autocannon, 32 connections, 5 s each)');
  const rows = await benchFeedServing();
  for (const r of rows) line(`  ${r.variant.padEnd(20)} ${String(r.rps).padStart(7)} req/s  p99 ${r.p99Ms} ms`);
  const get = (v: string) => rows.find((r) => r.variant === v)!.rps;
  line(
    `  inkwire/bare: 200 ${(get('inkwire 200') / get('bare node:http 200')).toFixed(2)}x, 304 ${(get('inkwire 304') / get('bare node:http 304')).toFixed(2)}x`,
  );
  line();
}

for (const name of ['import', 'delivery'] as const) {
  if (!(all || wanted.has(name))) continue;
  const path = `./${name}.ts`;
  try {
    const mod = (await import(path)) as Record<string, (...args: any[]) => unknown>;
    const fn = name === 'import' ? mod.benchImport : mod.benchDelivery;
    if (!fn) throw new Error(`${path} exports no bench function`);
    line(`== ${name}`);
    const figures = await fn();
    // A module may print its figures as labelled lines before the JSON.
    const summary = name === 'delivery' ? mod.deliverySummary : undefined;
    if (summary) for (const l of summary(figures) as string[]) line(l);
    line(JSON.stringify(figures, null, 2));
    line();
  } catch (e) {
    line(`== ${name}: not run (${e instanceof Error ? e.message : String(e)})`);
  }
}
process.exit(0);
