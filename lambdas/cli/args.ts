import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';
import { COMMANDS, type Command } from './usage.ts';

const OPTIONS = {
  api: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  title: { type: 'string' },
  tag: { type: 'string', multiple: true },
  author: { type: 'string', multiple: true },
  draft: { type: 'boolean' },
  schedule: { type: 'string' },
  summary: { type: 'string' },
  url: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  consent: { type: 'string' },
  'send-confirmation': { type: 'boolean' },
  out: { type: 'string' },
  text: { type: 'boolean' },
  body: { type: 'string' },
  publish: { type: 'boolean' },
  frequency: { type: 'string' },
  intro: { type: 'string' },
  subject: { type: 'string' },
  preview: { type: 'boolean' },
  test: { type: 'string', multiple: true },
  subscriber: { type: 'string' },
  'dry-run': { type: 'boolean' },
  watch: { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

const GLOBAL: OptionName[] = ['api', 'key', 'help', 'version'];
const PER_COMMAND: Record<Command, OptionName[]> = {
  publish: ['title', 'tag', 'author', 'draft', 'schedule', 'summary', 'url', 'json'],
  list: ['status', 'limit', 'json'],
  unpublish: ['json'],
  delete: [],
  show: ['text', 'json'],
  edit: ['title', 'tag', 'author', 'summary', 'url', 'body', 'draft', 'publish', 'schedule', 'json'],
  send: ['frequency', 'tag', 'subject', 'intro', 'preview', 'test', 'subscriber', 'out', 'dry-run', 'watch', 'json'],
  sends: ['limit', 'watch', 'json'],
  subscribers: ['consent', 'send-confirmation', 'out', 'status', 'limit', 'json'],
  help: [],
};

export interface ParsedArgs {
  command: Command | undefined;
  positionals: string[];
  api?: string | undefined;
  key?: string | undefined;
  help: boolean;
  version: boolean;
  title?: string | undefined;
  tags: string[];
  authors: string[];
  draft: boolean;
  schedule?: string | undefined;
  summary?: string | undefined;
  url?: string | undefined;
  status?: string | undefined;
  limit?: string | undefined;
  json: boolean;
  consent?: string | undefined;
  sendConfirmation: boolean;
  out?: string | undefined;
  text: boolean;
  body?: string | undefined;
  publish: boolean;
  frequency?: string | undefined;
  intro?: string | undefined;
  subject?: string | undefined;
  preview: boolean;
  tests: string[];
  subscriber?: string | undefined;
  dryRun: boolean;
  watch: boolean;
}

/** Parses argv (without `node` and the script). Options may come before or after the command. */
export function parseCliArgs(argv: string[]): ParsedArgs {
  const guessCommand = argv.find((a) => !a.startsWith('-'));
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const message = err instanceof Error ? (err.message.split(/\n|\. /)[0] ?? err.message) : String(err);
    throw new UsageError(message.replace(/\.$/, ''), guessCommand);
  }
  const { values, positionals, tokens } = parsed;
  const [first, ...rest] = positionals;
  let command: Command | undefined;
  if (first !== undefined) {
    if (!(COMMANDS as readonly string[]).includes(first)) throw new UsageError(`unknown command "${first}"`);
    command = first as Command;
  }

  if (command) {
    const allowed = new Set<string>([...GLOBAL, ...PER_COMMAND[command]]);
    for (const t of tokens ?? []) {
      if (t.kind === 'option' && !allowed.has(t.name)) throw new UsageError(`${t.rawName} is not an option of "${command}"`, command);
    }
  }

  return {
    command,
    positionals: rest,
    api: values.api,
    key: values.key,
    help: values.help ?? false,
    version: values.version ?? false,
    title: values.title,
    tags: values.tag ?? [],
    authors: values.author ?? [],
    draft: values.draft ?? false,
    schedule: values.schedule,
    summary: values.summary,
    url: values.url,
    status: values.status,
    limit: values.limit,
    json: values.json ?? false,
    consent: values.consent,
    sendConfirmation: values['send-confirmation'] ?? false,
    out: values.out,
    text: values.text ?? false,
    body: values.body,
    publish: values.publish ?? false,
    frequency: values.frequency,
    intro: values.intro,
    subject: values.subject,
    preview: values.preview ?? false,
    tests: values.test ?? [],
    subscriber: values.subscriber,
    dryRun: values['dry-run'] ?? false,
    watch: values.watch ?? false,
  };
}
