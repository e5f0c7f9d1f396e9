import { createHash } from 'node:crypto';

/**
 * An idempotency record is written in the same transaction as the thing it protects, so a repeated
 * request can never create a second one: either the record exists and holds the first answer, or
 * nothing was written.
 */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  requestHash: string;
  status: number;
  response: unknown;
  /** Epoch seconds after which the record expires (TTL). */
  expiresAt: number;
}

export interface IdempotencyRecord {
  requestHash: string;
  status: number;
  response: unknown;
}

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

/** A stable hash of a request body (key order does not matter). */
export function hashRequest(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

/** Raised by a repository when the idempotency record of a write already exists. */
export class IdempotencyConflict extends Error {
  constructor() {
    super('idempotency record exists');
    this.name = 'IdempotencyConflict';
  }
}
