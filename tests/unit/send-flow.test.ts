import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as planner from '../../lambdas/core/sends/planner.ts';
import * as worker from '../../lambdas/core/sends/worker.ts';
import * as settlement from '../../lambdas/core/sends/settlement.ts';
import * as deadLetter from '../../lambdas/core/sends/dead-letter.ts';
import * as archive from '../../lambdas/core/feeds/archive.ts';
import * as reports from '../../lambdas/core/sends/reports.ts';
import * as filters from '../../lambdas/handlers/stream-filters.ts';
import { FINAL_DELIVERY_STATES, SEND_STATUSES } from '../../lambdas/core/sends/model.ts';
import { DynamoSendRepository } from '../../lambdas/adapters/dynamodb/send-repository.ts';

const root = join(import.meta.dirname, '..', '..');
const wiring = readFileSync(join(root, 'lambdas/core/sends/WIRING.md'), 'utf8');
const plannerSource = readFileSync(join(root, 'lambdas/core/sends/planner.ts'), 'utf8');

/** The rows of the "Which write triggers which step" table. */
const rows = wiring
  .split('## Which write triggers which step')[1]!
  .split('\n## ')[0]!
  .split('\n')
  .filter((l) => l.startsWith('| ') && !l.startsWith('| Write') && !l.startsWith('|---'))
  .map((l) =>
    l
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim()),
  );

describe('the flow description in WIRING.md', () => {
  it('names only functions that exist, in the modules of their roles', () => {
    const repository = Object.fromEntries(Object.getOwnPropertyNames(DynamoSendRepository.prototype).map((n) => [n, true]));
    const known: Record<string, unknown> = { ...planner, ...worker, ...settlement, ...deadLetter, ...archive, ...reports, ...filters, ...repository };
    const named = rows.flatMap(([, carried, step]) => [...`${carried} ${step}`.matchAll(/`([A-Za-z_]+)`/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThan(8);
    for (const name of named) {
      if (name === 'maxReceiveCount') continue; // a limit's name (infra/limits.ts)
      if ((SEND_STATUSES as readonly string[]).includes(name) || (FINAL_DELIVERY_STATES as readonly string[]).includes(name)) continue; // a status, not a function
      expect(known[name], name).toBeDefined();
    }
  });

  it('says what each status of a Send item leads to, as onSendChanged handles them', () => {
    const handled = new Set([...plannerSource.split('export async function onSendChanged')[1]!.matchAll(/case '([a-z]+)':/g)].map((m) => m[1]!));
    const described = new Set(
      rows.flatMap(([write]) => [...write!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!)).filter((s) => (SEND_STATUSES as readonly string[]).includes(s)),
    );
    // Every status the planner acts on is in the table, and the table claims no step for a status it ignores
    // (`paused` is the publisher's to resume; `failed` ends a send that never started).
    for (const s of handled) expect(described.has(s), `status ${s}`).toBe(true);
    for (const s of described) expect(handled.has(s) || s === 'paused', `status ${s} is described but not handled`).toBe(true);
  });

  it('repeats no number that lives in the limits module', () => {
    expect(wiring).not.toMatch(/\b\d+\s*(s|ms|seconds|MB)\b/);
    expect(wiring).not.toMatch(/batchSize|maxConcurrency` \d|visibility timeout of \d/);
  });
});
