export const COMMANDS = ['publish', 'list', 'show', 'edit', 'unpublish', 'delete', 'send', 'sends', 'subscribers', 'help'] as const;
export type Command = (typeof COMMANDS)[number];

export const USAGE: Record<Command, string> = {
  publish:
    'inkwire publish <file.md|file.html|file.txt> [--title T] [--tag t]... [--author "Name <email>"]... [--draft | --schedule <ISO date-time>] [--summary S] [--url U] [--json]',
  list: 'inkwire list [--status draft|published|scheduled] [--limit N] [--json]',
  show: 'inkwire show <id|slug> [--text] [--json]',
  edit: 'inkwire edit <id|slug> [--title T] [--tag t]... [--author A]... [--summary S] [--url U] [--body <file>] [--draft | --publish | --schedule <ISO date-time>] [--json]',
  unpublish: 'inkwire unpublish <id> [--json]',
  delete: 'inkwire delete <id>',
  send: 'inkwire send digest [--frequency daily|weekly] [--intro T] | send article <id|slug> [--frequency instant|daily|weekly|all]; then [--tag t]... [--subject S] [--preview [--subscriber <email|id>] [--out <file.html>] | --test <address>... | --dry-run] [--watch] [--json]',
  sends: 'inkwire sends [--limit N] | sends <id> [--watch] | sends cancel <id> | sends resume <id> [--watch]; [--json]',
  subscribers:
    'inkwire subscribers list [--status S] [--limit N] | subscribers find <email> | subscribers counts | subscribers import <file.csv> [--consent confirmed|none] [--send-confirmation] | subscribers export [--out <file.csv>]; [--json]',
  help: 'inkwire help [command]',
};

const COMMON = `Options for every command:
  --api <url>   API base URL (default: $INKWIRE_URL, else http://localhost:3000)
  --key <key>   API key (default: $INKWIRE_API_KEY)
  -h, --help    Show help
  --version     Show the version`;

const DETAILS: Record<Command, string> = {
  publish: `Publishes an article from a file and prints its id and URL. Publishing the same
file again, after editing it, updates that article ("Updated"): it never adds a
second one. The file's article is the one named by its front matter "id:", else
the one with its slug: front matter "slug:", else the file's name without its
extension and a leading date (2024-02-11-drone-strike.md is drone-strike), which
becomes the article's URL path the first time.

  .md / .markdown   Markdown. Optional front matter between --- lines sets
                    title, tags, summary, authors, date and url, e.g.
                      ---
                      slug: my-article
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

A date in the file becomes the publication date shown for the article. An
update keeps the article's id, URL and first publication date, and sends no
new alert; --draft (or draft: true) on a published article unpublishes it.`,
  list: `Lists articles, newest first, following every page.

  --status S        Only draft, published or scheduled articles
  --limit N         At most N articles
  --json            Print a JSON array of the articles`,
  show: `Shows an article: id, slug, status, URL, dates, tags, authors and summary.

  --text            Also print its text (Markdown or HTML, as stored)
  --json            Print the article as JSON`,
  edit: `Changes the given fields of an article, nothing else, and prints it.

  --title T         New title
  --tag t           Tags; repeat for more (replaces them; --tag "" removes all)
  --author A        Authors, as for publish (replaces them)
  --summary S       Summary ("" goes back to one derived from the text)
  --url U           Canonical URL ("" goes back to the derived one)
  --body <file>     New text from a .md, .html or .txt file
  --draft           Unpublish: back to a draft, out of every feed
  --publish         Publish now
  --schedule D      Publish at ISO date-time D
  --json            Print the article as JSON`,
  send: `Sends a digest or an article to subscribers, previews it, or tests it.

inkwire send digest
  Each subscriber of the frequency gets the articles published since their own
  last digest, on their topics; nobody gets an empty one (they are counted as
  skipped, with the reason).
  --frequency F     daily or weekly (default weekly)
  --intro T         A paragraph under the greeting
inkwire send article <id|slug>
  The article to its audience (a draft or scheduled one only with --preview or --test).
  --frequency F     instant (default), daily, weekly or all

  --tag t           Only these topics; repeatable
  --subject S       Replaces the template's subject line
  --preview         Print the subject, articles and text version; send nothing
    --subscriber X  ...as this subscriber (email or id) would get it: their
                    window and topics, or why they would be skipped
    --out F         ...and write the HTML to file F
  --test A          Send it now only to address A (repeatable, at most 10)
  --dry-run         Create the send but only count its audience
  --watch           Follow the send until it ends (see "inkwire sends")
  --json            Print the send (or preview, or test results) as JSON`,
  sends: `Lists sends, shows one, follows one, cancels or resumes one.

inkwire sends                  Newest first: kind, status, progress
  --limit N                    At most N sends
inkwire sends <id>             Counts, skipped recipients by reason, errors and
                               what SES reported about delivery
  --watch                      Follow it with a progress bar until it ends
inkwire sends cancel <id>      Stops it; nothing more goes out
inkwire sends resume <id>      Goes on from where it stopped (failures retried)
  --json                       Print JSON instead`,
  unpublish: `Turns a published or scheduled article back into a draft; it leaves every feed.

  --json            Print the updated article as JSON`,
  delete: 'Deletes an article; it leaves every feed.',
  subscribers: `Lists, finds and counts subscribers; imports or exports them as CSV, at any size:
the file goes to and comes from storage by a signed URL, and the work runs as a
job on the service.

inkwire subscribers list
  Newest first: id, status, frequency, topics, date and address.
  --status S            Only pending, confirmed, unsubscribed or suppressed
  --limit N             At most N subscribers
  --json                Print a JSON array

inkwire subscribers counts
  Subscribers by status, and the confirmed ones by frequency.
  --json                Print the counts as JSON

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
