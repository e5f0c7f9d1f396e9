import { inspect } from 'node:util';
import type { LogFn } from '../../compose/observability.ts';

/** An error on one line: `Name: message`, its code, the frame it was thrown at, and its causes the same way. */
function describeError(e: Error, depth = 0): string {
  const code = (e as { code?: unknown }).code;
  const frame = e.stack
    ?.split('\n')
    .find((l) => l.trimStart().startsWith('at '))
    ?.trim();
  let out = `${e.name}: ${e.message}${typeof code === 'string' && !e.message.includes(code) ? ` [${code}]` : ''}${frame ? ` (${frame})` : ''}`;
  if (e.cause !== undefined && depth < 3) out += ` <- caused by ${e.cause instanceof Error ? describeError(e.cause, depth + 1) : inspectOneLine(e.cause)}`;
  return out;
}

function inspectOneLine(value: unknown): string {
  return inspect(value, { breakLength: Infinity, compact: true, depth: 4, colors: false });
}

/** What a detail looks like at the end of a local log line: strings as they are, errors and objects on one line. */
export function formatDetail(detail: unknown): string {
  if (detail === undefined || detail === '') return '';
  if (typeof detail === 'string') return detail;
  if (detail instanceof Error) return describeError(detail);
  if (detail && typeof detail === 'object' && !Array.isArray(detail)) {
    // `{ subscriberId, error }`: the error described, the rest as it is.
    const parts = Object.entries(detail as Record<string, unknown>).map(([k, v]) => `${k}: ${v instanceof Error ? describeError(v) : inspectOneLine(v)}`);
    return `{ ${parts.join(', ')} }`;
  }
  return inspectOneLine(detail);
}

/** One local log line: the message and its detail, as the runtime has always printed them, but never over several lines. */
export function formatLocalLine(message: string, detail?: unknown): string {
  const rest = formatDetail(detail);
  return (rest ? `${message} ${rest}` : message).replace(/\r?\n/g, ' \u21b5 ');
}

/**
 * The local runtime's log: readable single lines on stderr (where `npm start` has always logged, keeping
 * stdout for what it prints for the developer). No JSON, no timestamps: a developer reads it as it scrolls.
 */
export function consoleLog(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): LogFn {
  return (message, detail) => write(formatLocalLine(message, detail));
}
