export const COMMANDS = ['publish', 'list', 'unpublish', 'delete', 'subscribers', 'help'] as const;
export type Command = (typeof COMMANDS)[number];

export const USAGE: Record<Command, string> = {
  publish: 'inkwire publish <file.md|file.html|file.txt> [--title T] [--tag t]... [--author "Name <email>"]... [--draft | --schedule <ISO date-time>] [--summary S] [--url U] [--json]',
  list: 'inkwire list [--status draft|published|scheduled] [--limit N] [--json]',
  unpublish: 'inkwire unpublish <id> [--json]',
  delete: 'inkwire delete <id>',
  subscribers: 'inkwire subscribers import <file.csv> [--consent confirmed|none] [--send-confirmation] [--json] | subscribers export [--out <file.csv>] [--json] | subscribers find <email> [--json]',
  help: 'inkwire help [command]',
};

const COMMON = `Options for every command:
  --api <url>   API base URL (default: $INKWIRE_URL, else http://localhost:3000)
  --key <key>   API key (default: $INKWIRE_API_KEY)
  -h, --help    Show help
  --version     Show the version`;

const DETAILS: Record<Command, string> = {
  publish: `Creates an article from a file and prints its id and URL.

  .md / .markdown   Markdown. Optional front matter between --- lines sets
                    title, tags, summary, authors, date and url, e.g.
                      ---
                      title: My article
                      tags: [politics, iraq]
                      authors: [Jane Doe <jane@example.com>]
                      date: 2024-02-11
                      ---
                    Without a title there, a leading "# Heading" is the title.
  .html / .htm      HTML. Title from <title> or the first <h1>.
  .txt / .text      Plain text: title on the first line, an optional date line,
                    paragraphs separated by blank lines.

  --title T         Title (overrides the file's)
  --tag t           Tag; repeat for more (replaces the file's tags)
  --author A        "Name", "Name <email>" or "Name <https://url>"; repeatable
  --summary S       Summary (default: derived from the body)
  --url U           Canonical URL (default: derived from the site URL)
  --draft           Save as a draft instead of publishing
  --schedule D      Publish later, at ISO date-time D (e.g. 2024-03-01T09:00:00Z)
  --json            Print the created article as JSON

A date in the file becomes the publication date shown for the article.
Running the same command again does not publish twice: the request carries an
Idempotency-Key derived from its content.`,
  list: `Lists articles, newest first, following every page.

  --status S        Only draft, published or scheduled articles
  --limit N         At most N articles
  --json            Print a JSON array of the articles`,
  unpublish: `Turns a published or scheduled article back into a draft; it leaves every feed.

  --json            Print the updated article as JSON`,
  delete: 'Deletes an article; it leaves every feed.',
  subscribers: `Imports or exports subscribers as CSV, at any size: the file goes to and comes
from storage by a signed URL, and the work runs as a job on the service; finds one
subscriber by address.

inkwire subscribers import <file.csv>
  Columns: email (required), name, frequency (instant, daily, weekly), topics
  (separated by ;); or an export file as it is: inkwire's own, Mailchimp,
  Substack, Ghost or Buttondown (address, name, dates and status read; rows
  it marks unsubscribed or bounced skipped and listed; unconfirmed ones stay
  pending). Uploads the file, waits for the import and prints its
  report: rows created, skipped and refused (each by line). Importing the same
  file again changes nothing.
  --consent confirmed   You assert every address consented before: new rows
                        become confirmed (default none: they are pending)
  --send-confirmation   Send pending rows a confirmation email
  --json                Print the finished job as JSON

inkwire subscribers export
  Waits for the export and writes the CSV to stdout (progress on stderr).
  --out <file.csv>      Write it to this file instead
  --json                Print the finished job as JSON (needs --out)

inkwire subscribers find <email>
  Prints the subscriber with exactly this address (case does not matter): its
  id (for DELETE /api/subscribers/{id}), status, frequency, topics and dates.
  Exits 1 when there is none.
  --json                Print the subscriber as JSON`,
  help: 'Shows help for all commands or one.',
};

export function commandHelp(command: Command): string {
  return `usage: ${USAGE[command]}\n\n${DETAILS[command]}\n\n${COMMON}\n`;
}

export function generalHelp(version: string): string {
  const lines = COMMANDS.map((c) => `  ${USAGE[c]}`).join('\n');
  return `inkwire ${version}: publish articles to an Inkwire site and manage its subscribers from the command line.

usage:
${lines}
  inkwire --version

${COMMON}

Run "inkwire help <command>" for the options of one command.
`;
}

export function usageLine(command?: string): string {
  if (command && (COMMANDS as readonly string[]).includes(command)) {
    return `usage: ${USAGE[command as Command]}\nRun "inkwire help ${command}" for details.`;
  }
  return `usage: inkwire <${COMMANDS.join('|')}> [options]\nRun "inkwire help" for details.`;
}
