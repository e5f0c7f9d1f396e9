/**
 * CSV import through the real route (HTTP, node-server, the subscriber router, DynamoDB Local): 10,000 and
 * 100,000 generated rows, streamed to the server without ever being held whole on either side. Memory is
 * sampled every 25 ms during each run; the import streams, so the peak at 100,000 rows should stay within
 * 1.5x of the peak at 10,000.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newId } from '../../lambdas/core/ids.ts';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../lambdas/local/dynamodb-local.ts';
import type { ImportReport } from '../../lambdas/core/subscribers/import.ts';
import { startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';

export interface ImportFigures {
  ms: number;
  /** Peak resident set size of this process during the run (server and client share it). */
  peakRssMb: number;
  /** Peak V8 heap in use during the run. */
  heapMb: number;
  rowsPerSecond: number;
  created: number;
}

const FREQUENCIES = ['instant', 'daily', 'weekly'];
const TOPICS = ['politics', 'science', 'climate', 'economy', 'culture'];

/** Generated CSV, produced chunk by chunk as the request body is read. */
function csvStream(rows: number, prefix: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = -1;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < 0) {
        controller.enqueue(encoder.encode('email,name,frequency,topics\n'));
        i = 0;
        return;
      }
      if (i >= rows) {
        controller.close();
        return;
      }
      let chunk = '';
      for (const end = Math.min(rows, i + 500); i < end; i++) {
        chunk += `${prefix}-${i}@example.org,Reader ${i},${FREQUENCIES[i % 3]},${TOPICS[i % 5]};${TOPICS[(i + 2) % 5]}\n`;
      }
      controller.enqueue(encoder.encode(chunk));
    },
  });
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function run(h: SubscriberHarness, rows: number): Promise<ImportFigures> {
  (globalThis as { gc?: () => void }).gc?.();
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 25);
  const started = performance.now();
  try {
    const res = await h.api('/api/subscribers/import?consent=confirmed', {
      method: 'POST',
      body: csvStream(rows, `bench${rows}-${newId()}`),
      headers: { 'content-type': 'text/csv' },
    });
    const report = (await res.json()) as ImportReport;
    if (res.status !== 200) throw new Error(`import answered ${res.status}: ${JSON.stringify(report)}`);
    if (report.created !== rows) throw new Error(`expected ${rows} rows created, got ${JSON.stringify(report)}`);
    const ms = Math.round(performance.now() - started);
    sample();
    return { ms, peakRssMb: mb(peakRss), heapMb: mb(peakHeap), rowsPerSecond: Math.round((rows / ms) * 1000), created: report.created };
  } finally {
    clearInterval(timer);
  }
}

export async function benchImport(): Promise<{ rows10k: ImportFigures; rows100k: ImportFigures; ratio100kTo10k: { peakRss: number; heap: number } }> {
  const local = await startDynamoDbLocal();
  const ddb = new DynamoDBClient({ endpoint: local.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const doc = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  const tableName = `bench-import-${newId()}`;
  await ensureTable(ddb, tableName);
  const h = await startSubscriberHarness({ table: { doc, tableName } });
  try {
    // A short warm-up, so that the first measured run does not pay for module loading and JIT.
    await run(h, 1_000);
    const rows10k = await run(h, 10_000);
    const rows100k = await run(h, 100_000);
    return {
      rows10k,
      rows100k,
      ratio100kTo10k: {
        peakRss: Math.round((rows100k.peakRssMb / rows10k.peakRssMb) * 100) / 100,
        heap: Math.round((rows100k.heapMb / rows10k.heapMb) * 100) / 100,
      },
    };
  } finally {
    await h.stop();
    ddb.destroy();
    await local.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchImport(), null, 2));
}
