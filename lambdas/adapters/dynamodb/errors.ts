import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { AppError } from '../../core/errors.ts';

/** Indexes of the transaction items whose condition failed, or undefined when the error is something else. */
export function failedConditions(e: unknown): number[] | undefined {
  if (!(e instanceof TransactionCanceledException) && (e as { name?: string })?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (e as TransactionCanceledException).CancellationReasons ?? [];
  const failed: number[] = [];
  reasons.forEach((r, i) => {
    if (r.Code === 'ConditionalCheckFailed') failed.push(i);
  });
  return failed;
}

/** A transaction cancelled because another transaction was writing one of its items at the same time. */
export function isTransactionConflict(e: unknown): boolean {
  if ((e as { name?: string })?.name === 'TransactionConflictException') return true;
  if (!(e instanceof TransactionCanceledException) && (e as { name?: string })?.name !== 'TransactionCanceledException') return false;
  return ((e as TransactionCanceledException).CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
}

export function isConditionalCheckFailed(e: unknown): boolean {
  return (e as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** Opaque page cursors: DynamoDB's LastEvaluatedKey, base64url-encoded. A forged cursor is a 400, not a 500. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

/** Any key value DynamoDB accepts in a start key: a non-empty string of at most 1,024 characters. */
export const ANY_KEY_VALUE = /^[\s\S]{1,1024}$/;

/**
 * A cursor back to the start key it was made from, checked fully: a JSON object with exactly the key
 * names of `shape`, each a string that equals (string) or matches (RegExp) its entry. The index's
 * partition key is given exactly, so a cursor from another list (or a forged `{}`) is refused here
 * rather than by DynamoDB as a 500.
 */
export function decodeCursor(cursor: string | undefined, shape: Record<string, string | RegExp>): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  let v: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw invalidCursor('it is not base64url-encoded JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidCursor('it is not an object');
  const o = v as Record<string, unknown>;
  const names = Object.keys(shape);
  const extra = Object.keys(o).filter((k) => !names.includes(k));
  if (extra.length) throw invalidCursor(`it has unknown keys (${extra.join(', ')})`);
  for (const k of names) {
    const want = shape[k]!;
    const got = o[k];
    if (got === undefined) throw invalidCursor(`it lacks the key ${k}`);
    if (typeof got !== 'string' || !(typeof want === 'string' ? got === want : want.test(got))) throw invalidCursor(`its ${k} is not one of this list's`);
  }
  return o;
}

/** A cursor this API did not hand out: the caller's mistake (400), naming the `cursor` field and what is wrong with it. */
export function invalidCursor(reason: string): AppError {
  return new AppError(
    'request.invalid',
    `cursor is not one this API returned: ${reason}; pass back the \`next\` value of a previous page as it is, or start again without a cursor`,
    {
      issues: [{ path: 'cursor', message: `unknown cursor: ${reason}` }],
    },
  );
}
