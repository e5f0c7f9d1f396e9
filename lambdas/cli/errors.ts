/** A mistake in how the command was called: exit code 2, with the command's usage line. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure while doing the work (unreadable file, API refused, network down): exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly details: string[] = [],
    /** The API's error code (`article.notFound`), when the API refused. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
