/** A CloudWatch Embedded Metric Format document, as Powertools Metrics writes it to stdout (one per line). */
export interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

/** The JSON documents written to stdout while `run` runs, one per line (other output is dropped). */
export async function jsonWrittenToStdout(run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The EMF documents written to stdout while `run` runs. */
export async function emfWritten(run: () => Promise<void>): Promise<Emf[]> {
  return (await jsonWrittenToStdout(run)).filter((d): d is Emf => '_aws' in d);
}
