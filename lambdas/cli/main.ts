import { readFileSync, realpathSync } from 'node:fs';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { ApiClient, type FetchFn } from './api.ts';
import { parseCliArgs, type ParsedArgs } from './args.ts';
import { edit, list, publish, remove, show, unpublish, type CommandContext, type Output } from './commands.ts';
import { send, sends } from './sends.ts';
import { CliError, UsageError } from './errors.ts';
import { subscribers, type FileIo } from './subscribers.ts';
import { COMMANDS, commandHelp, generalHelp, usageLine, type Command } from './usage.ts';

export interface CliIo {
  fetch: FetchFn;
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  readFile: (path: string) => Promise<string>;
  /** Streams files for the subscriber commands (default: the local disk). */
  files?: FileIo;
  /** Writes a small text file (a preview's HTML; default: the local disk). */
  writeText?: (path: string, text: string) => Promise<void>;
}

export const DEFAULT_API_URL = 'http://localhost:3000';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Runs one command line (without `node` and the script path) and returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let command: string | undefined;
  try {
    const args = parseCliArgs(argv);
    command = args.command;
    if (args.version) {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (args.command === 'help' || args.help) {
      const topic = args.command === 'help' ? args.positionals[0] : args.command;
      if (topic !== undefined && !(COMMANDS as readonly string[]).includes(topic)) throw new UsageError(`no help for unknown command "${topic}"`);
      io.stdout.write(topic ? commandHelp(topic as Command) : generalHelp(VERSION));
      return 0;
    }
    if (!args.command) throw new UsageError('no command given');

    const ctx: CommandContext = { args, api: connect(args, io), stdout: io.stdout, stderr: io.stderr, readFile: io.readFile };
    switch (args.command) {
      case 'publish':
        await publish(ctx);
        break;
      case 'list':
        await list(ctx);
        break;
      case 'unpublish':
        await unpublish(ctx);
        break;
      case 'delete':
        await remove(ctx);
        break;
      case 'show':
        await show(ctx);
        break;
      case 'edit':
        await edit(ctx);
        break;
      case 'send':
      case 'sends': {
        const files = io.files ?? diskFiles;
        const sendCtx = { ...ctx, sleep: files.sleep, writeText: io.writeText ?? ((path: string, text: string) => writeFile(path, text)) };
        await (args.command === 'send' ? send(sendCtx) : sends(sendCtx));
        break;
      }
      case 'subscribers':
        await subscribers({ ...ctx, fetch: io.fetch, files: io.files ?? diskFiles });
        break;
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`inkwire: ${err.message}\n${usageLine(err.command ?? command)}\n`);
      return 2;
    }
    if (err instanceof CliError) {
      io.stderr.write(`inkwire: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join('')}`);
      return 1;
    }
    io.stderr.write(`inkwire: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/** Files on the local disk, streamed both ways. */
export const diskFiles: FileIo = {
  openFile: async (path) => {
    const { size, isDirectory } = await stat(path).then((s) => ({ size: s.size, isDirectory: s.isDirectory() }));
    if (isDirectory) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    return { size, body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array> };
  },
  writeFile: async (path, body) => {
    let bytes = 0;
    const out = createWriteStream(path);
    await (body as unknown as NodeReadableStream<Uint8Array>)
      .pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, c) => {
            bytes += chunk.length;
            c.enqueue(chunk);
          },
        }) as never,
      )
      .pipeTo(Writable.toWeb(out));
    return bytes;
  },
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

function connect(args: ParsedArgs, io: CliIo): ApiClient {
  const base = args.api ?? io.env.INKWIRE_URL ?? DEFAULT_API_URL;
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new UsageError(`API URL "${base}" is not a URL; use e.g. --api https://inkwire.example.com`, args.command);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`API URL "${base}" must start with http:// or https://`, args.command);
  const key = args.key ?? io.env.INKWIRE_API_KEY;
  if (!key) throw new UsageError('no API key: pass --key or set INKWIRE_API_KEY', args.command);
  return new ApiClient(`${parsed.origin}${parsed.pathname}`, key, io.fetch);
}

/** True when this module is the program: run directly, or through bin/inkwire.mjs (also via an npm bin link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    const real = realpathSync(script);
    return real === fileURLToPath(import.meta.url) || real === fileURLToPath(new URL('../../bin/inkwire.mjs', import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  process.exitCode = await runCli(process.argv.slice(2), {
    fetch: globalThis.fetch,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    readFile: (path) => readFile(path, 'utf8'),
  });
}
