import { CliError } from './errors.ts';

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

interface ApiErrorBody {
  error: { code?: string; message?: string; issues?: { path?: string; message?: string }[]; requestId?: string };
}

const TIMEOUT_MS = 30_000;

/** A thin client of the Inkwire HTTP API that turns every failure into a readable {@link CliError}. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly apiKey: string,
    private readonly fetchFn: FetchFn,
    private readonly timeoutMs = TIMEOUT_MS,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, options: { json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, accept: 'application/json', ...options.headers };
    let body: string | undefined = options.body;
    if (options.json !== undefined) body = JSON.stringify(options.json);
    if (body !== undefined) headers['content-type'] = 'application/json';

    let res: Response;
    try {
      res = await this.fetchFn(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw networkError(method, url, err, this.timeoutMs);
    }

    const text = await res.text().catch(() => '');
    let parsed: unknown;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) throw apiError(method, url, res, parsed, text);
    if (text && parsed === undefined) throw new CliError(`${method} ${url} answered ${res.status} with a body that is not JSON`, [snippet(text)]);
    return { status: res.status, headers: res.headers, body: parsed as T };
  }
}

function networkError(method: string, url: string, err: unknown, timeoutMs: number): CliError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new CliError(`${method} ${url}: no answer within ${Math.round(timeoutMs / 1000)} s`);
  }
  const reason = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
  return new CliError(`could not reach ${url} (${reason})`, ['Is the API running, and is --api or INKWIRE_URL right?']);
}

function apiError(method: string, url: string, res: Response, parsed: unknown, text: string): CliError {
  const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  const err = (parsed as ApiErrorBody | undefined)?.error;
  if (!err || typeof err !== 'object') {
    return new CliError(`${method} ${url} failed: ${status}`, text ? [snippet(text)] : []);
  }
  const details: string[] = [];
  for (const issue of err.issues ?? []) {
    const line = `${issue.path || '(request)'}: ${issue.message ?? 'invalid'}`;
    // The API's message usually already names each issue; do not say it twice.
    if (!err.message?.includes(line)) details.push(line);
  }
  if (res.status === 401) details.push('Check the API key (--key or INKWIRE_API_KEY).');
  const retryAfter = res.headers.get('retry-after');
  if (res.status === 429 && retryAfter) details.push(`Try again in ${retryAfter} s.`);
  if (err.requestId) details.push(`request id: ${err.requestId}`);
  const code = err.code ? `${err.code}, ` : '';
  return new CliError(`${err.message ?? 'request failed'} (${code}${status})`, details, err.code);
}

function snippet(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
