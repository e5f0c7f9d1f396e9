/**
 * Replays the stream batches the feed rebuilder and the send planner gave up on (their retries or record
 * age spent), through the same functions, and removes each one they now take.
 *
 *   npm run replay-failed -- --bucket <Inkwire-Service.FailedBatchesBucketName> [--region eu-west-1] [--dry-run]
 *   npm run replay-failed -- --local [http://localhost:3000]
 *
 * In AWS the batches are the objects Lambda wrote to the on-failure bucket (the records themselves, so a
 * batch can be replayed after the stream dropped it); each is invoked on the function that failed it
 * (your AWS credentials need s3:ListBucket/GetObject/DeleteObject on the bucket and lambda:InvokeFunction).
 * Locally the running `npm start` keeps them under DATA_DIR/failed-batches/ and replays them itself.
 * Replaying is safe: the handlers are idempotent (a feed rebuild rewrites documents; planning moves a
 * checkpoint conditionally).
 */
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { parseStreamFailure } from '../adapters/stream-failures.ts';
import type { ReplayReport } from '../local/failed-batches.ts';

export interface ReplayClients {
  s3: Pick<S3Client, 'send'>;
  lambda: Pick<LambdaClient, 'send'>;
}

/** Replays every failure record in the bucket; `dryRun` lists them only. */
export async function replayBucket(clients: ReplayClients, bucket: string, options: { dryRun?: boolean } = {}): Promise<ReplayReport> {
  const report: ReplayReport = { replayed: [], failed: [], skipped: [] };
  let token: string | undefined;
  do {
    const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const { Key: key } of page.Contents ?? []) {
      if (!key) continue;
      const body = await (await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString('utf8');
      const batch = body === undefined ? undefined : parseStreamFailure(body);
      if (!batch) {
        report.skipped.push(key);
        continue;
      }
      if (options.dryRun) {
        report.skipped.push(`${key} (${batch.records} record(s) for ${batch.functionName}; dry run)`);
        continue;
      }
      try {
        const out = await clients.lambda.send(
          new InvokeCommand({
            FunctionName: batch.functionArn,
            InvocationType: 'RequestResponse',
            Payload: new TextEncoder().encode(JSON.stringify(batch.event)),
          }),
        );
        const answer = out.Payload ? new TextDecoder().decode(out.Payload) : '';
        if (out.FunctionError) throw new Error(`${out.FunctionError}: ${answer.slice(0, 500)}`);
        const failures = (answer ? (JSON.parse(answer) as { batchItemFailures?: unknown[] } | null) : null)?.batchItemFailures ?? [];
        if (failures.length > 0) throw new Error(`${failures.length} record(s) failed again`);
        await clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        report.replayed.push({ key, function: batch.functionName, records: batch.records });
      } catch (e) {
        report.failed.push({ key, function: batch.functionName, error: e instanceof Error ? e.message : String(e) });
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return report;
}

export function summary(r: ReplayReport): string {
  const lines = [`replayed ${r.replayed.length} batch(es), ${r.failed.length} failed again, ${r.skipped.length} skipped`];
  for (const x of r.replayed) lines.push(`  replayed ${x.key}: ${x.records} record(s) through ${x.function}`);
  for (const x of r.failed) lines.push(`  FAILED   ${x.key} (${x.function}): ${x.error}`);
  for (const x of r.skipped) lines.push(`  skipped  ${x}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      bucket: { type: 'string' },
      region: { type: 'string' },
      local: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  const usage =
    'usage: npm run replay-failed -- --bucket <FailedBatchesBucketName> [--region <region>] [--dry-run]\n       npm run replay-failed -- --local [http://localhost:3000]';
  if (values.help) {
    console.log(usage);
    return 0;
  }
  let report: ReplayReport;
  if (values.local) {
    const base = (positionals[0] ?? 'http://localhost:3000').replace(/\/$/, '');
    const res = await fetch(`${base}/_dev/failed-batches/replay`, { method: 'POST' });
    if (!res.ok) throw new Error(`${base} answered ${res.status}: is \`npm start\` running there?`);
    report = (await res.json()) as ReplayReport;
  } else if (values.bucket) {
    const region = values.region;
    report = await replayBucket({ s3: new S3Client(region ? { region } : {}), lambda: new LambdaClient(region ? { region } : {}) }, values.bucket, {
      dryRun: values['dry-run'] === true,
    });
  } else {
    console.error(usage);
    return 2;
  }
  console.log(summary(report));
  return report.failed.length > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
