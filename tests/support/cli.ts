import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskFiles, runCli, type CliIo } from '../../lambdas/cli/main.ts';
import { TEST_KEY } from './runtime.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The `inkwire` command run in this process against a running instance at `url()` (read on each call, so
 * it may be set in a beforeAll), with the real disk and polls shortened to 100 ms.
 */
export function cliAgainst(url: () => string): (argv: string[]) => Promise<CliRun> {
  return async (argv) => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      fetch: globalThis.fetch,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { INKWIRE_URL: url(), INKWIRE_API_KEY: TEST_KEY },
      readFile: (p) => readFile(p, 'utf8'),
      files: { ...diskFiles, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 100))) },
    };
    return { code: await runCli(argv, io), stdout, stderr };
  };
}

/** Writes `content` to `name` in the folder `dir()` and answers its path. */
export const fileIn = (dir: () => string) => async (name: string, content: string) => {
  const p = join(dir(), name);
  await writeFile(p, content);
  return p;
};
