/**
 * `npm run digest -- daily|weekly [--wait]`: asks the running local instance (its API) for a digest now,
 * exactly as a publisher would with `POST /api/sends`, and with `--wait` follows it to the end.
 *
 * Environment: INKWIRE_URL (default http://localhost:$PORT, PORT default 3000); INKWIRE_API_KEY, else the
 * key the local runtime keeps in $DATA_DIR/api-key (DATA_DIR default .data).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const FINAL = new Set(['completed', 'expired', 'failed', 'cancelled', 'paused']);

async function main(argv: string[]): Promise<number> {
  const frequency = argv.find((a) => !a.startsWith('-'));
  const wait = argv.includes('--wait');
  if (frequency !== 'daily' && frequency !== 'weekly') {
    console.error('usage: npm run digest -- daily|weekly [--wait]');
    return 2;
  }
  const url = (process.env.INKWIRE_URL ?? `http://localhost:${process.env.PORT ?? 3000}`).replace(/\/+$/, '');
  let key = process.env.INKWIRE_API_KEY;
  if (!key) {
    const file = join(process.env.DATA_DIR ?? '.data', 'api-key');
    key = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (!key) {
      console.error(`no API key: set INKWIRE_API_KEY, or start the local instance (npm start) so that it writes ${file}`);
      return 2;
    }
  }
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  let res: Response;
  try {
    res = await fetch(`${url}/api/sends`, { method: 'POST', headers, body: JSON.stringify({ kind: 'digest', frequency }) });
  } catch (e) {
    console.error(`could not reach Inkwire at ${url} (is \`npm start\` running?): ${(e as Error).message}`);
    return 1;
  }
  const body = (await res.json()) as { id?: string; status?: string; error?: { message: string } };
  if (res.status !== 202 || !body.id) {
    console.error(`the ${frequency} digest was refused (${res.status}): ${body.error?.message ?? JSON.stringify(body)}`);
    return 1;
  }
  console.log(`${frequency} digest ${body.id}: ${body.status}  (${url}/api/sends/${body.id})`);
  if (!wait) return 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const s = (await (await fetch(`${url}/api/sends/${body.id}`, { headers })).json()) as {
      status: string;
      reason?: string;
      counts: Record<string, number>;
      progress: number;
      eta?: string;
    };
    const counts = Object.entries(s.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(`  ${s.status} ${(s.progress * 100).toFixed(0)}%  ${counts}${s.eta ? `  eta ${s.eta}` : ''}`);
    if (FINAL.has(s.status)) {
      if (s.reason) console.log(`  ${s.reason}`);
      return s.status === 'completed' ? 0 : 1;
    }
  }
}

process.exitCode = await main(process.argv.slice(2));
