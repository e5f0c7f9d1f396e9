import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { onSendChanged } from '../core/sends/planner.ts';
import type { SendDeps } from '../core/sends/deps.ts';
import type { Send } from '../core/sends/model.ts';
import { decodeSendChange } from '../adapters/dynamodb/stream-records.ts';
import { withCorrelation } from '../compose/observability.ts';
import { lambdaEntry } from './lambda-entry.ts';

interface Change {
  id: string;
  before: Send | undefined;
  after: Send | undefined;
  firstSequence: string | undefined;
}

/** The records of one batch, one change per send: the image before its first record and after its last. */
export function coalesce(records: DynamoDBRecord[]): Change[] {
  const byId = new Map<string, Change>();
  for (const r of records) {
    const change = decodeSendChange(r);
    if (!change) continue;
    const seen = byId.get(change.id);
    if (seen) seen.after = change.after;
    else byId.set(change.id, { id: change.id, before: change.before, after: change.after, firstSequence: change.sequence });
  }
  return [...byId.values()];
}

/**
 * The consumer of Send items on the table's stream (filtered by SEND_PLANNER_FILTER, NEW_AND_OLD_IMAGES):
 * starts new sends, continues planning after each checkpoint, pauses past the error threshold, completes
 * a send when its last batch is counted and writes a digest's archive. Every step is a conditional write,
 * so a retried batch is harmless; on failure the batch is retried from the failed send's first record.
 */
export function createSendPlannerHandler(deps: SendDeps | (() => Promise<SendDeps>)) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const resolved = typeof deps === 'function' ? await deps() : deps;
    for (const change of coalesce(event.Records)) {
      if (!change.after) continue;
      const failed = await withCorrelation({ send_id: change.id }, async () => {
        try {
          await onSendChanged(resolved, change.before, change.after!);
          return false;
        } catch (e) {
          (resolved.log ?? console.error)(`send ${change.id}: planning step failed`, e);
          return true;
        }
      });
      if (failed) return { batchItemFailures: change.firstSequence ? [{ itemIdentifier: change.firstSequence }] : [] };
    }
    return { batchItemFailures: [] };
  };
}

/** Lambda entry point (AWS composition in ./aws/plan.ts). */
export const handler = lambdaEntry(
  'sendPlanner',
  createSendPlannerHandler(async () => (await import('./aws/plan.ts')).awsPlanDeps()),
);
