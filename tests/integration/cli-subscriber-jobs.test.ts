/**
 * `inkwire subscribers import|export` against the local runtime: the job flow end to end (create, upload
 * the file streamed, poll, report; export, download).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliAgainst, fileIn } from '../support/cli.ts';
import { startTestRuntime, type TestRuntime } from '../support/runtime.ts';

let rt: TestRuntime;
let dir: string;
beforeAll(async () => {
  rt = await startTestRuntime({ MAX_IMPORT_BYTES: '100000' });
  dir = await mkdtemp(join(tmpdir(), 'inkwire-cli-jobs-'));
});
afterAll(async () => {
  await rt?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const cli = cliAgainst(() => rt.url);
const file = fileIn(() => dir);

describe('inkwire subscribers import', () => {
  it('uploads the file to the job, waits, and prints the report with each refused row', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `cli-${i}@example.org,Reader ${i},daily,`);
    const path = await file('subs.csv', ['email,name,frequency,topics', ...rows, 'nope,Bad,,'].join('\n'));
    const r = await cli(['subscribers', 'import', path, '--consent', 'confirmed']);
    expect(r.stderr).toMatch(/uploading .*subs\.csv \(\d[\d,]* bytes\) for import [0-9a-z]+/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Imported .*subs\.csv \(job [0-9a-z]+\): 41 rows\n {2}created 40 \(confirmed\)/);
    expect(r.stdout).toMatch(/refused: 1\nRefused rows:\n {2}line 42: email: /);
    const list = (await (await rt.api('/api/subscribers?status=confirmed&limit=100')).json()) as { items: { email: string }[] };
    expect(list.items.filter((s) => s.email.startsWith('cli-'))).toHaveLength(40);

    const again = await cli(['subscribers', 'import', path, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      status: 'completed',
      options: { consent: 'none', sendConfirmation: false },
      report: { created: 0, unchanged: 40 },
    });
  });

  it('asks pending rows to confirm with --send-confirmation, and says so', async () => {
    const r = await cli(['subscribers', 'import', await file('pending.csv', 'email\ncli-pending@example.org\n'), '--send-confirmation']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created 1 \(pending\)/);
    expect(r.stdout).toMatch(/confirmation emails: 1 (sent|requested)/);
  });

  it('stops before uploading a file over the limit, and reports a failed job with its reason', async () => {
    const big = await file('big.csv', `email\n${'big@example.org\n'.repeat(8000)}`);
    const tooBig = await cli(['subscribers', 'import', big]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toMatch(/big\.csv is 128,006 bytes; an import may be at most 100,000 bytes: split the file/);

    const bad = await cli(['subscribers', 'import', await file('bad.csv', 'name,phone\nAnn,1\n')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/import [0-9a-z]+ failed: the first line must be a header/);
  });

  it('refuses wrong usage before calling the API', async () => {
    for (const [argv, message] of [
      [['subscribers'], /subscribers needs "list", "find", "counts", "import" or "export"/],
      [['subscribers', 'find'], /subscribers find needs an email address/],
      [['subscribers', 'import'], /needs a CSV file/],
      [['subscribers', 'import', 'a.csv', '--consent', 'yes'], /--consent must be confirmed or none/],
      [['subscribers', 'import', 'a.csv', '--consent', 'confirmed', '--send-confirmation'], /nothing needs confirming/],
      [['subscribers', 'export', '--consent', 'confirmed'], /options of "subscribers import"/],
      [['list', '--out', 'x'], /--out is not an option of "list"/],
    ] as const) {
      const r = await cli([...argv]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/usage: /);
    }
    const missing = await cli(['subscribers', 'import', join(dir, 'missing.csv')]);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/missing\.csv: no such file/) });
  });
});

describe('inkwire subscribers find', () => {
  it('prints the one subscriber with that address, whatever its case, or exits 1', async () => {
    const path = await file('find.csv', 'email,name,frequency\nFind.Me@Example.org,Finn Dee,weekly\nfind-other@example.org,Other,daily\n');
    expect((await cli(['subscribers', 'import', path, '--consent', 'confirmed'])).code).toBe(0);

    const r = await cli(['subscribers', 'find', 'find.me@EXAMPLE.org']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^[0-9a-z]+ {2}Find\.Me@Example\.org \(Finn Dee\)\n {2}status confirmed, weekly, topics: all\n {2}created \S+, confirmed \S+, source import\n$/,
    );

    const json = await cli(['subscribers', 'find', 'FIND.ME@example.org', '--json']);
    expect(json.code).toBe(0);
    const s = JSON.parse(json.stdout) as { id: string; email: string };
    expect(s.email).toBe('Find.Me@Example.org');
    expect((await (await rt.api(`/api/subscribers/${s.id}`)).json()) as { email: string }).toMatchObject({ email: 'Find.Me@Example.org' });

    const none = await cli(['subscribers', 'find', 'nobody-here@example.org']);
    expect(none).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/no subscriber with the address nobody-here@example\.org/) });
  });
});

describe('inkwire subscribers export', () => {
  it('writes the export to a file with --out, or to stdout, byte for byte as the streamed export', async () => {
    const streamed = await (await rt.api('/api/subscribers/export')).text();
    const out = join(dir, 'export.csv');
    const r = await cli(['subscribers', 'export', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Exported \d+ subscribers to .*export\.csv \([\d,]+ bytes\)\n$/);
    expect(await readFile(out, 'utf8')).toBe(streamed);

    // The export imports back (as a job): every address is known, so nothing changes and nothing is refused.
    const back = await cli(['subscribers', 'import', out, '--consent', 'confirmed']);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/created 0 \(confirmed\)/);
    expect(back.stdout).toMatch(/refused: 0\n/);

    const toStdout = await cli(['subscribers', 'export']);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout).toBe(streamed);
    expect(toStdout.stderr).toMatch(/exported \d+ subscribers/);
  });
});
