/**
 * The publisher's commands against the local runtime: publishing a file again updates its article,
 * show and edit, send (preview, test, real with --watch), sends, and subscribers list and counts.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliAgainst, fileIn } from '../support/cli.ts';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';

let rt: TestRuntime;
let dir: string;
beforeAll(async () => {
  rt = await startTestRuntime();
  dir = await mkdtemp(join(tmpdir(), 'inkwire-cli-pub-'));
});
afterAll(async () => {
  await rt?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const run = cliAgainst(() => rt.url);
const cli = (...argv: string[]) => run(argv);
const file = fileIn(() => dir);
const articles = async () =>
  ((await (await rt.api('/api/articles?limit=100')).json()) as { items: { id: string; slug: string; title: string; status: string }[] }).items;

/** Every message in the local outbox, by recipient, with its subject. */
async function outbox(): Promise<{ to: string; subject: string }[]> {
  const out: { to: string; subject: string }[] = [];
  for (const day of await readdir(rt.outboxDir).catch(() => [])) {
    for (const f of (await readdir(join(rt.outboxDir, day))).filter((x) => x.endsWith('.eml'))) {
      const text = await readFile(join(rt.outboxDir, day, f), 'utf8');
      out.push({ to: /^To: (.*)$/im.exec(text)?.[1] ?? '', subject: /^Subject: (.*)$/im.exec(text)?.[1] ?? '' });
    }
  }
  return out;
}

describe('inkwire publish, again', () => {
  it('updates the article it published from the same file, and says so', async () => {
    const path = await file('2024-02-11-harbour-reopens.md', '---\ntitle: Harbour reopens\ntags: [city]\n---\nThe harbour reopened on Monday.\n');
    const first = await cli('publish', path);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Published ([0-9a-z]+)\nhttps:\/\/news\.example\.com\/articles\/harbour-reopens\/\n$/);
    const id = /^Published ([0-9a-z]+)/.exec(first.stdout)![1]!;

    await writeFile(path, '---\ntitle: Harbour reopens after storm\ntags: [city]\n---\nThe harbour reopened on Monday, a week after the storm.\n');
    const second = await cli('publish', path);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`Updated ${id} (published)\nhttps://news.example.com/articles/harbour-reopens/\n`);
    const all = (await articles()).filter((a) => a.slug.startsWith('harbour-reopens'));
    expect(all).toEqual([expect.objectContaining({ id, title: 'Harbour reopens after storm', status: 'published' })]);
    // The story is in the feed once, under its new title.
    const feed = await rt.waitFor('/feed.xml', (t) => t.includes('Harbour reopens after storm'));
    expect(feed.match(/<title>Harbour reopens/g)).toHaveLength(1);

    const third = await cli('publish', path);
    expect(third.stdout).toMatch(new RegExp(`^Unchanged ${id} \\(published\\)`));
  });

  it('updates the article a front matter id names, and refuses an id that does not exist', async () => {
    const made = await cli('publish', await file('budget.md', '# Budget passes\n\nThe budget passed.\n'));
    const id = /^Published ([0-9a-z]+)/.exec(made.stdout)![1]!;
    const renamed = await cli('publish', await file('elsewhere.md', `---\nid: ${id}\ntitle: Budget passes narrowly\n---\nThe budget passed by one vote.\n`));
    expect(renamed.stdout).toMatch(new RegExp(`^Updated ${id} \\(published\\)\\nhttps://news\\.example\\.com/articles/budget/\\n$`));
    expect((await articles()).filter((a) => a.title.startsWith('Budget'))).toHaveLength(1);

    const missing = await cli('publish', await file('ghost.md', '---\nid: nosuchid\ntitle: Ghost\n---\nText.\n'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/names article nosuchid in its front matter, and there is no such article/);
  });

  it('takes a slug from the front matter over the file name', async () => {
    const r = await cli('publish', await file('draft-notes.md', '---\nslug: school-opens\ntitle: School opens\ndraft: true\n---\nOn Wednesday.\n'));
    expect(r.stdout).toMatch(/^Saved draft [0-9a-z]+\nhttps:\/\/news\.example\.com\/articles\/school-opens\/\n$/);
  });
});

describe('inkwire show and edit', () => {
  it('shows an article by slug, and edits only the fields given', async () => {
    await cli('publish', await file('council-meets.md', '---\ntitle: Council meets\ndraft: true\n---\nOn Tuesday.\n'));
    const shown = await cli('show', 'council-meets', '--text');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^id: +[0-9a-z]+\nslug: +council-meets\ntitle: +Council meets\nstatus: +draft\n/);
    expect(shown.stdout).toMatch(/\n\nOn Tuesday\.\n$/);

    const edited = await cli('edit', 'council-meets', '--title', 'Council meets on Tuesday', '--tag', 'city', '--publish');
    expect(edited.code).toBe(0);
    expect(edited.stdout).toMatch(/^Updated [0-9a-z]+ \(published\)\n/);
    const json = JSON.parse((await cli('show', 'council-meets', '--json')).stdout) as { title: string; status: string; body: string; tags: { name: string }[] };
    expect(json).toMatchObject({ title: 'Council meets on Tuesday', status: 'published', body: 'On Tuesday.\n', tags: [{ name: 'city' }] });

    const nothing = await cli('edit', 'council-meets');
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/nothing to change/);
    const unknown = await cli('show', 'no-such-story');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no article with id or slug "no-such-story"/);
  });
});

describe('inkwire subscribers list and counts', () => {
  it('lists and counts the subscribers', async () => {
    const counted = async () =>
      JSON.parse((await cli('subscribers', 'counts', '--json')).stdout) as { total: number; byStatus: { confirmed: number }; byFrequency: { weekly: number } };
    const before = await counted();
    const csv = await file(
      'list.csv',
      ['email,name,frequency,topics', 'dee@example.org,Dee,weekly,', 'eve@example.org,Eve,weekly,sport', 'fay@example.org,Fay,instant,'].join('\n'),
    );
    expect((await cli('subscribers', 'import', csv, '--consent', 'confirmed')).code).toBe(0);
    const list = await cli('subscribers', 'list', '--status', 'confirmed');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID +STATUS +FREQUENCY +TOPICS +SINCE +EMAIL$/);
    for (const a of ['dee@example.org', 'eve@example.org', 'fay@example.org']) expect(list.stdout).toContain(a);
    expect(list.stdout).toMatch(/confirmed +weekly +sport +\d{4}-\d{2}-\d{2} +eve@example\.org/);

    const after = await counted();
    expect(after.byStatus.confirmed - before.byStatus.confirmed).toBe(3);
    expect(after.byFrequency.weekly - before.byFrequency.weekly).toBe(2);
    const counts = await cli('subscribers', 'counts');
    expect(counts.stdout).toMatch(new RegExp(`^confirmed +${after.byStatus.confirmed}$`, 'm'));
    expect(counts.stdout).toMatch(new RegExp(`^total +${after.total}$`, 'm'));
    expect((await cli('subscribers', 'counts', '--limit', '3')).stderr).toMatch(/--limit is not an option of "subscribers counts"/);
  });
});

describe('inkwire send and sends', () => {
  beforeAll(async () => {
    // Daily readers, so the weekly subscribers of the other tests are not in these digests.
    const csv = await file(
      'readers.csv',
      ['email,name,frequency,topics', 'ann@example.org,Ann,daily,', 'bob@example.org,Bob,daily,sport', 'cy@example.org,Cy,instant,'].join('\n'),
    );
    expect((await cli('subscribers', 'import', csv, '--consent', 'confirmed')).code).toBe(0);
    // Published after they confirmed: new for them (a digest never reaches back before a subscription).
    expect((await cli('publish', await file('ferry.md', '---\ntitle: Ferry timetable changes\ntags: [city]\n---\nNew times from Monday.\n'))).code).toBe(0);
  });

  it('previews a digest, as a named subscriber too, and tests it on one address only', async () => {
    const preview = await cli('send', 'digest', '--frequency', 'daily', '--preview', '--out', join(dir, 'digest.html'));
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/^Preview as a subscriber of every topic would get it: articles published after .* up to .*\nSubject: .*daily digest/);
    expect(preview.stdout).toContain('Ferry timetable changes');
    expect(await readFile(join(dir, 'digest.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/i);

    // Bob reads only sport: the send would skip him, and the preview says why.
    const bob = await cli('send', 'digest', '--frequency', 'daily', '--preview', '--subscriber', 'bob@example.org');
    expect(bob.code).toBe(1);
    expect(bob.stderr).toMatch(/would not get this send: topicsExcludeAll/);

    const test = await cli('send', 'digest', '--frequency', 'daily', '--test', 'editor@example.net');
    expect(test.stdout).toMatch(/^Test sent to editor@example\.net \(.+\)\n$/);
    const after = await outbox();
    expect(after.filter((m) => m.to.includes('editor@example.net')).map((m) => m.subject)).toEqual([expect.stringMatching(/^\[Test\] .*daily digest/)]);
    // Nobody else got the digest (Cy, an instant subscriber, may have the ferry alert by now).
    expect(after.filter((m) => /ann@|bob@/.test(m.to))).toEqual([]);
  });

  it('sends a digest, follows it to the end, and reports who was skipped and why', async () => {
    const r = await cli('send', 'digest', '--frequency', 'daily', '--watch');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = /^Sending digest ([0-9a-z]+)\n/.exec(r.stdout)![1]!;
    expect(r.stdout).toMatch(/status: +completed/);
    expect(r.stdout).toMatch(/progress: +\[#{30}\] 100%/);
    expect(r.stdout).toMatch(/planned 2: submitted 1, failed 0, uncertain 0, suppressed 0, skipped 1/);
    expect(r.stdout).toMatch(/skipped: +topicsExcludeAll 1\n/);
    expect((await outbox()).filter((m) => m.to.includes('ann@example.org'))).toHaveLength(1);

    const list = await cli('sends');
    expect(list.stdout.split('\n')[0]).toMatch(/^ID +KIND +STATUS +CREATED +DONE +SUBMITTED\/PLANNED$/);
    expect(list.stdout).toMatch(new RegExp(`^${id} +digest daily +completed +\\S+ \\S+ +100% +1/2$`, 'm'));
    const one = await cli('sends', id);
    expect(one.stdout).toMatch(new RegExp(`^${id} +digest \\(daily\\), created .* by api\\n`));
    const json = JSON.parse((await cli('sends', id, '--json')).stdout) as { skippedBy: Record<string, number> };
    expect(json.skippedBy.topicsExcludeAll).toBe(1);
  });

  it('sends an article alert by slug as a dry run, counting its audience', async () => {
    const r = await cli('send', 'article', 'ferry', '--frequency', 'all', '--dry-run', '--watch');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Counting the audience of article [0-9a-z]+\n/);
    expect(r.stdout).toMatch(/status: +completed \(dry run/);
  });

  it('refuses options that do not go together, with the usage', async () => {
    const both = await cli('send', 'digest', '--preview', '--dry-run');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/use one of --preview, --dry-run\nusage: inkwire send/);
    expect((await cli('send', 'digest', '--frequency', 'instant')).stderr).toMatch(/a digest's --frequency is daily or weekly, not "instant"/);
    expect((await cli('send', 'podcast')).stderr).toMatch(/send takes "digest" or "article", not "podcast"/);
    expect((await cli('sends', '--watch')).stderr).toMatch(/--watch follows one send/);
  });
});
