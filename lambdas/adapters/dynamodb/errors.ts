import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';

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

export function decodeCursor(cursor: string | undefined, allowedKeys: string[]): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (Object.keys(o).every((k) => allowedKeys.includes(k) && typeof o[k] === 'string')) return o;
    }
  } catch {
    /* fall through */
  }
  throw new InvalidCursor();
}

export class InvalidCursor extends Error {
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidCursor';
  }
}
