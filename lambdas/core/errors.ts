/**
 * One error type for everything the core refuses. The `code` is namespaced (`article.notFound`) and
 * maps to exactly one HTTP status in {@link STATUS_BY_CODE}: adding a code without a status does not
 * type-check.
 */
export const STATUS_BY_CODE = {
  'request.invalid': 400,
  'request.malformedJson': 400,
  'request.tooLarge': 413,
  'request.unsupportedMediaType': 415,
  'request.rateLimited': 429,
  'auth.missingKey': 401,
  'auth.invalidKey': 401,
  'origin.forbidden': 403,
  'route.notFound': 404,
  'article.notFound': 404,
  'article.conflict': 409,
  'article.slugTaken': 409,
  'article.invalidTransition': 409,
  'idempotency.keyReused': 422,
  'subscriber.notFound': 404,
  'subscriber.tokenInvalid': 400,
  'subscriber.tokenExpired': 410,
  'subscriber.suppressed': 409,
  'sns.messageInvalid': 400,
  'send.notFound': 404,
  'send.invalidTransition': 409,
  'send.articleNotPublished': 409,
  'send.nothingToSend': 409,
  'job.notFound': 404,
  'upload.forbidden': 403,
  'upload.lengthRequired': 411,
  'internal.unexpected': 500,
  'dependency.unavailable': 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

/** A problem with one field of the input: `path` is dotted (`authors.0.email`). */
export interface FieldIssue {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; issues?: FieldIssue[]; headers?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.issues = options.issues;
    this.headers = options.headers;
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
