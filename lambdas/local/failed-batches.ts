import { Hono } from 'hono';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { localFailureRecord, parseStreamFailure } from '../adapters/stream-failures.ts';
import type { StreamFailure } from './stream-poller.ts';

/** A stream consumer a failed batch can be handed to again (the same handler the poller calls). */
export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;

export interface ReplayReport {
  replayed: { key: string; function: string; records: number }[];
  failed: { key: string; function: string; error: string }[];
  /** Files that are not failure records, or name a function this runtime does not have; left in place. */
  skipped: string[];
}

/**
 * The local stand-in for the stream consumers' S3 on-failure destination: one JSON file per given-up batch
 * under `dir`, in the shape Lambda writes to S3 (`adapters/stream-failures.ts`), kept across restarts.
 */
export class LocalFailedBatches {
  constructor(private readonly dir: string) {}

  async put(failure: StreamFailure, at: Date): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const record = localFailureRecord({
      functionName: failure.consumer,
      shardId: failure.shardId,
      records: failure.records,
      attempts: failure.attempts,
      reason: failure.reason,
      at,
      streamArn: 'local',
    });
    const key = `${at.toISOString().replace(/[:.]/g, '-')}-${failure.consumer}-${record.requestContext.requestId}.json`;
    await writeFile(join(this.dir, `.${key}.tmp`), JSON.stringify(record, null, 2));
    await rename(join(this.dir, `.${key}.tmp`), join(this.dir, key));
    return key;
  }

  async keys(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  /**
   * Hands every stored batch to its function's handler again, oldest first; a batch the handler took
   * (no error, no item failures) is removed, one it failed on stays for the next replay.
   */
  async replay(handlers: Record<string, StreamHandler>): Promise<ReplayReport> {
    const report: ReplayReport = { replayed: [], failed: [], skipped: [] };
    for (const key of await this.keys()) {
      const batch = parseStreamFailure(await readFile(join(this.dir, key), 'utf8'));
      const handler = batch && handlers[batch.functionName];
      if (!batch || !handler) {
        report.skipped.push(key);
        continue;
      }
      try {
        const out = await handler(batch.event);
        if (out && out.batchItemFailures.length > 0) throw new Error(`${out.batchItemFailures.length} record(s) failed again`);
        await rm(join(this.dir, key), { force: true });
        report.replayed.push({ key, function: batch.functionName, records: batch.records });
      } catch (e) {
        report.failed.push({ key, function: batch.functionName, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return report;
  }
}

/**
 * `GET /_dev/failed-batches` lists the stored batches; `POST /_dev/failed-batches/replay` hands them to their
 * handlers again (what `npm run replay-failed -- --local <url>` calls). Local only, like `/_dev/outbox`.
 */
export function failedBatchesApp(store: LocalFailedBatches, handlers: Record<string, StreamHandler>): Hono {
  const app = new Hono();
  app.get('/', async (c) => c.json({ batches: await store.keys() }));
  app.post('/replay', async (c) => c.json(await store.replay(handlers)));
  return app;
}
