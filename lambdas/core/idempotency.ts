import { createHash } from 'node:crypto';
import type { Clock } from './clock.ts';
import { AppError } from './errors.ts';

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

/** A request's idempotency: the publisher's `Idempotency-Key`, the operation it is scoped to, and a hash of the body. */
export interface IdempotencyOptions {
  scope: string;
  key: string;
  requestHash: string;
}

/** An answer to a create request; `replayed` when it is the first answer to the same key, given again. */
export interface Replayable<T> {
  status: number;
  body: T;
  replayed: boolean;
}

/** Where the records are read: the repository that writes them, in the transaction of what they protect. */
export interface IdempotencyRecords {
  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
}

/** The record to write with a creation for its answer; undefined when the request carries no key. */
export type ClaimIdempotency<T> = (status: number, response: T) => IdempotencyClaim | undefined;

function replay<T>(record: IdempotencyRecord, requestHash: string): Replayable<T> {
  if (record.requestHash !== requestHash) {
    throw new AppError('idempotency.keyReused', 'this Idempotency-Key was already used with a different request body; use a new key for a new request');
  }
  return { status: record.status, body: record.response as T, replayed: true };
}

/**
 * Runs `create` at most once per Idempotency-Key. A key used before gets its first answer back without
 * `create` running (a 422 when the body differs). Otherwise `create` writes the record `claim` gives it
 * in the same transaction as what it creates; when a concurrent request with the same key won that race,
 * the repository throws {@link IdempotencyConflict} and the winner's answer is returned. There is no
 * "in progress" state: a record exists only together with what it protects.
 *
 * @example
 * return withIdempotency(deps.sends, deps.clock, idempotency, async (claim) => {
 *   await deps.sends.create(send, claim(202, body));
 *   return { status: 202, body, replayed: false };
 * });
 */
export async function withIdempotency<T>(
  records: IdempotencyRecords,
  clock: Clock,
  options: IdempotencyOptions | undefined,
  create: (claim: ClaimIdempotency<T>) => Promise<Replayable<T>>,
): Promise<Replayable<T>> {
  if (!options) return create(() => undefined);
  const existing = await records.getIdempotency(options.scope, options.key);
  if (existing) return replay(existing, options.requestHash);
  try {
    return await create((status, response) => ({
      ...options,
      status,
      response,
      expiresAt: Math.floor(clock.now().getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS,
    }));
  } catch (e) {
    if (e instanceof IdempotencyConflict) {
      const record = await records.getIdempotency(options.scope, options.key);
      if (record) return replay(record, options.requestHash);
    }
    throw e;
  }
}
