/**
 * Feed benchmarks (issue: foundation):
 * 1. Rebuild after one publish with 100 and with 10,000 articles stored (same publishing rate, so the
 *    month being rebuilt holds as many entries in both: the archive's size is the only difference).
 * 2. The same documents rendered by the `feed` package alone, in the same run.
 * 3. GET /feed.xml on the local runtime (200 and 304) against a bare node:http server with the same bytes.
 * 4. The site's pages after the same publish (issue: public site): rebuild time at both sizes beside the
 *    feed rebuild of the same publish (the baseline), and how many pages were written of how many stored.
 */
import { TEST_SITE } from '../support/site.ts';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import { Feed } from 'feed';
import { FixedClock } from '../../lambdas/core/clock.ts';
import { createArticle, type ArticleDeps } from '../../lambdas/core/articles/use-cases.ts';
import { rebuildFeeds, toFeedEntry, type FeedRebuildDeps } from '../../lambdas/core/feeds/rebuild.ts';
import { rebuildSite, rebuildWholeSite, type SiteRebuildDeps } from '../../lambdas/core/site/rebuild.ts';
import { renderFeed } from '../../lambdas/core/feeds/index.ts';
import type { Article } from '../../lambdas/core/articles/schema.ts';
import { DynamoArticleRepository } from '../../lambdas/adapters/dynamodb/article-repository.ts';
import { FsDocumentStore } from '../../lambdas/adapters/local/fs-document-store.ts';
import { ensureTable, freePort, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../lambdas/local/dynamodb-local.ts';
import { parsePlainTextArticle } from '../../lambdas/core/articles/plain-text.ts';

const SITE = TEST_SITE;

const PER_DAY = 10;
const NOW = new Date('2026-03-10T23:00:00Z');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;

async function seed(deps: ArticleDeps, count: number, body: string): Promise<void> {
  const clock = deps.clock as FixedClock;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const day = Math.floor(i / PER_DAY);
      const publishAt = new Date(NOW.getTime() - day * 86_400_000 - (i % PER_DAY) * 3_600_000 - 3_600_000).toISOString();
      await createArticle(deps, {
        title: `Archive article ${i}`,
        body,
        bodyFormat: 'markdown',
        authors: [{ name: 'Staff Writer' }],
        tags: [i % 3 === 0 ? 'Politics' : 'World'],
        status: 'published',
        publishAt,
      });
    }
  };
  clock.set(NOW);
  await Promise.all(Array.from({ length: 16 }, worker));
}

function renderWithFeedPackage(articles: Article[]): string[] {
  const feed = new Feed({
    title: SITE.title,
    description: SITE.description,
    id: `${SITE.siteUrl}/`,
    link: `${SITE.siteUrl}/`,
    language: 'en',
    copyright: SITE.copyright,
    updated: new Date(articles[0]?.updatedAt ?? NOW),
    feedLinks: { rss: `${SITE.publicUrl}/feed.xml`, atom: `${SITE.publicUrl}/atom.xml`, json: `${SITE.publicUrl}/feed.json` },
  });
  for (const a of articles) {
    feed.addItem({
      title: a.title,
      id: `tag:news.example.com,2024:article:${a.id}`,
      link: a.url,
      date: new Date(a.updatedAt),
      published: new Date(a.publishedAt!),
      description: a.summary,
      content: a.contentHtml,
      ...(a.authors.length ? { author: a.authors.map((p) => ({ name: p.name })) } : {}),
      category: a.tags.map((t) => ({ name: t.name, term: t.slug })),
    });
  }
  return [feed.rss2(), feed.atom1(), feed.json1()];
}

export interface RebuildFigures {
  articles: number;
  rebuildMedianMs: number;
  rebuildP95Ms: number;
  renderOnlyMedianMs: number;
  feedPackageMedianMs: number;
  /** The site's pages after the same publish. */
  siteRebuildMedianMs: number;
  siteRebuildP95Ms: number;
  /** Documents whose bytes changed per publish (pages, sitemaps, records), median. */
  siteWrittenMedian: number;
  /** Documents rendered per publish whose bytes were already stored (not rewritten), median. */
  siteUnchangedMedian: number;
  /** Site pages and sitemaps stored after the last round (the whole site was built before the rounds). */
  siteStored: number;
}

interface Prepared {
  count: number;
  repo: DynamoArticleRepository;
  deps: ArticleDeps;
  feedDeps: FeedRebuildDeps;
  siteDeps: SiteRebuildDeps;
  dir: string;
  rebuilds: number[];
  siteRebuilds: number[];
  siteWritten: number[];
  siteUnchanged: number[];
  renders: number[];
  baseline: number[];
}

async function prepare(doc: DynamoDBDocumentClient, ddb: DynamoDBClient, count: number, body: string): Promise<Prepared> {
  const table = `bench-${count}-${Date.now()}`;
  await ensureTable(ddb, table);
  const repo = new DynamoArticleRepository(doc, table);
  const deps: ArticleDeps = {
    articles: repo,
    scheduler: { schedule: async () => undefined, cancel: async () => undefined },
    clock: new FixedClock(NOW),
    site: SITE,
  };
  const dir = await mkdtemp(join(tmpdir(), 'inkwire-bench-'));
  const store = new FsDocumentStore(dir);
  const feedDeps: FeedRebuildDeps = { index: repo, store, site: SITE };
  const siteDeps: SiteRebuildDeps = { index: repo, store, site: SITE };
  await seed(deps, count, body);
  const month = NOW.toISOString().slice(0, 7);
  await rebuildFeeds(feedDeps, new Map([['site', new Set([month])]]));
  // The whole site as earlier publishes left it, so a publish's writes are measured against every page.
  await rebuildWholeSite(siteDeps);
  return { count, repo, deps, feedDeps, siteDeps, dir, rebuilds: [], siteRebuilds: [], siteWritten: [], siteUnchanged: [], renders: [], baseline: [] };
}

/** One publish, then the rebuild its stream record causes; and the same documents rendered alone. */
async function round(p: Prepared, r: number, body: string): Promise<void> {
  const month = NOW.toISOString().slice(0, 7);
  (p.deps.clock as FixedClock).set(new Date(NOW.getTime() + (r + 1) * 60_000));
  const created = (await createArticle(p.deps, { title: `Breaking ${r}`, body, bodyFormat: 'markdown', authors: [], tags: [], status: 'published' })).body;
  const targets = new Map([['site' as const, new Set([month])]]);
  const t0 = performance.now();
  await rebuildFeeds(p.feedDeps, targets);
  p.rebuilds.push(performance.now() - t0);
  const ts = performance.now();
  const site = await rebuildSite(p.siteDeps, { feeds: targets, entries: [{ articleId: created.id, publishedAt: created.publishedAt! }] });
  p.siteRebuilds.push(performance.now() - ts);
  p.siteWritten.push(site.written.length);
  p.siteUnchanged.push(site.unchanged);

  const sortDesc = (xs: Article[]) => xs.sort((a, b) => (a.publishedAt! < b.publishedAt! ? 1 : -1));
  const newest = sortDesc([...(await p.repo.articles((await p.repo.newest('site', 50)).map((x) => x.articleId))).values()]);
  const monthArticles = sortDesc([...(await p.repo.articles((await p.repo.month('site', month)).map((x) => x.articleId))).values()]);
  const docs = [newest, monthArticles];
  const t1 = performance.now();
  for (const arts of docs) {
    const feedDoc = {
      kind: 'subscription' as const,
      id: 'tag:x,2024:feed',
      title: SITE.title,
      description: SITE.description,
      language: SITE.language,
      homeUrl: `${SITE.siteUrl}/`,
      self: { rss: 'https://x/feed.xml', atom: 'https://x/atom.xml', json: 'https://x/feed.json' },
      updated: arts[0]!.updatedAt,
      copyright: SITE.copyright,
      generator: { name: 'Inkwire', uri: 'https://x/', version: '0' },
      entries: arts.map((a) => toFeedEntry(SITE, a)),
    };
    for (const f of ['rss', 'atom', 'json'] as const) renderFeed(feedDoc, f);
  }
  p.renders.push(performance.now() - t1);
  const t2 = performance.now();
  for (const arts of docs) renderWithFeedPackage(arts);
  p.baseline.push(performance.now() - t2);
}

export async function benchFeedRebuild(rounds = 21): Promise<RebuildFigures[]> {
  const sample = await readFile(new URL('../fixtures/articles/2024-02-11-us-drone-strike-baghdad.txt', import.meta.url), 'utf8');
  const body = parsePlainTextArticle(sample).bodyMarkdown;
  const local = await startDynamoDbLocal();
  const ddb = new DynamoDBClient({ endpoint: local.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  try {
    const sets = [await prepare(doc, ddb, 100, body), await prepare(doc, ddb, 10_000, body)];
    // Interleaved, so that whatever else the machine does weighs on both sizes alike.
    for (let r = 0; r < rounds; r++) for (const p of r % 2 ? [...sets].reverse() : sets) await round(p, r, body);
    const figures: RebuildFigures[] = [];
    for (const p of sets) {
      figures.push({
        articles: p.count,
        rebuildMedianMs: median(p.rebuilds),
        rebuildP95Ms: p95(p.rebuilds),
        renderOnlyMedianMs: median(p.renders),
        feedPackageMedianMs: median(p.baseline),
        siteRebuildMedianMs: median(p.siteRebuilds),
        siteRebuildP95Ms: p95(p.siteRebuilds),
        siteWrittenMedian: median(p.siteWritten),
        siteUnchangedMedian: median(p.siteUnchanged),
        siteStored: await countSiteDocuments(p.dir),
      });
    }
    return figures;
  } finally {
    ddb.destroy();
    await local.stop();
  }
}

/** HTML pages and sitemaps in the document folder (feeds and metadata files left out). */
async function countSiteDocuments(dir: string): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(dir, { recursive: true });
  return names.map(String).filter((n) => n.endsWith('.html') || (/sitemap/.test(n) && n.endsWith('.xml'))).length;
}

function waitForLine(child: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`timed out; output so far:\n${out}`)), ms);
    const on = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        res(m[1] ?? m[0]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

async function load(url: string, headers: Record<string, string>, seconds: number, connections: number) {
  const r = await autocannon({ url, headers, duration: seconds, connections, pipelining: 1 });
  return { rps: Math.round(r.requests.average), p99Ms: r.latency.p99, non2xx: r.non2xx, statuses: r.statusCodeStats };
}

export interface ServingFigures {
  variant: string;
  rps: number;
  p99Ms: number;
}

export async function benchFeedServing(seconds = 5, connections = 32): Promise<ServingFigures[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'inkwire-bench-serve-'));
  const port = await freePort();
  const key = 'bench-key-0123456789abcdef';
  const rt = spawn(process.execPath, ['--import', 'tsx', 'lambdas/local/main.ts'], {
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, INKWIRE_API_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const bare = { child: undefined as ChildProcess | undefined };
  try {
    await waitForLine(rt, /Inkwire is running at (http:\/\/\S+)/, 120_000);
    const base = `http://localhost:${port}`;
    const sample = await readFile(new URL('../fixtures/articles/2024-02-11-us-drone-strike-baghdad.txt', import.meta.url), 'utf8');
    const { title, bodyMarkdown } = parsePlainTextArticle(sample);
    for (let i = 0; i < 50; i++) {
      await fetch(`${base}/api/articles`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `${title} ${i}`, body: bodyMarkdown, status: 'published' }),
      });
    }
    let res: Response;
    for (;;) {
      res = await fetch(`${base}/feed.xml`);
      const text = await res.text();
      if ((text.match(/<item>/g) ?? []).length === 50) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const etag = res.headers.get('etag')!;
    const bytesFile = join(dataDir, 'public', 'feed.xml');
    const barePort = await freePort();
    bare.child = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const b=fs.readFileSync(${JSON.stringify(bytesFile)});const etag=${JSON.stringify(etag)};
         require('http').createServer((q,s)=>{if(q.headers['if-none-match']===etag){s.writeHead(304,{ETag:etag});return s.end();}
         s.writeHead(200,{'Content-Type':'application/rss+xml; charset=utf-8','Content-Length':b.length,ETag:etag});s.end(b);}).listen(${barePort},()=>console.log('ready'));`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitForLine(bare.child, /ready/, 10_000);
    const out: ServingFigures[] = [];
    const variants: [string, string, Record<string, string>][] = [
      ['inkwire 200', `${base}/feed.xml`, {}],
      ['bare node:http 200', `http://localhost:${barePort}/feed.xml`, {}],
      ['inkwire 304', `${base}/feed.xml`, { 'if-none-match': etag }],
      ['bare node:http 304', `http://localhost:${barePort}/feed.xml`, { 'if-none-match': etag }],
    ];
    for (const [variant, url, headers] of variants) {
      await load(url, headers, 1, connections); // warm-up
      const r = await load(url, headers, seconds, connections);
      out.push({ variant, rps: r.rps, p99Ms: r.p99Ms });
    }
    return out;
  } finally {
    bare.child?.kill('SIGKILL');
    rt.kill('SIGTERM');
    await new Promise((r) => rt.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  }
}
