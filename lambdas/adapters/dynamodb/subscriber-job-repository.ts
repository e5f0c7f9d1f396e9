import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ExportJob, ImportJob, JobResult, SubscriberJob, SubscriberJobRepository } from '../../core/subscribers/jobs-ports.ts';
import { JOB_RECORD_DAYS } from '../../core/subscribers/jobs.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';

const JOB_FIELDS = ['kind', 'id', 'status', 'options', 'createdAt', 'updatedAt', 'uploadExpiresAt', 'startedAt', 'heartbeatAt', 'finishedAt', 'rows', 'bytes', 'reason', 'attempts'] as const;

function fromItem(item: Record<string, unknown>): SubscriberJob {
  const job: Record<string, unknown> = {};
  for (const f of JOB_FIELDS) if (item[f] !== undefined) job[f] = item[f];
  // The report can list a thousand rows; it is kept as one string attribute.
  if (typeof item.report === 'string') job.report = JSON.parse(item.report);
  job.rows ??= 0;
  if (job.kind === 'export') job.attempts ??= 0;
  return job as unknown as SubscriberJob;
}

/**
 * Subscriber jobs in the single table (`JOB#<id>` / `JOB`), deleted by TTL {@link JOB_RECORD_DAYS} days after
 * creation. Each state change is an UpdateItem conditional on the state it leaves.
 */
export class DynamoSubscriberJobRepository implements SubscriberJobRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(job: SubscriberJob): Promise<void> {
    const { report, ...rest } = job as ImportJob;
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...keys.subscriberJob(job.id),
          entity: 'subscriberJob',
          ...rest,
          ...(report ? { report: JSON.stringify(report) } : {}),
          expiresAt: Math.floor(Date.parse(job.createdAt) / 1000) + JOB_RECORD_DAYS * 86_400,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async get(id: string): Promise<SubscriberJob | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.subscriberJob(id), ConsistentRead: true }));
    return Item ? fromItem(Item) : undefined;
  }

  async claimImport(id: string, at: string): Promise<ImportJob | undefined> {
    return (await this.update(id, {
      UpdateExpression: 'SET #status = :running, startedAt = :at, heartbeatAt = :at, updatedAt = :at, #rows = :zero',
      ConditionExpression: '#kind = :import AND #status = :awaiting',
      ExpressionAttributeNames: { '#status': 'status', '#rows': 'rows', '#kind': 'kind' },
      ExpressionAttributeValues: { ':running': 'running', ':awaiting': 'awaiting-upload', ':import': 'import', ':at': at, ':zero': 0 },
    })) as ImportJob | undefined;
  }

  async claimExport(id: string, at: string, staleBefore: string): Promise<ExportJob | undefined> {
    return (await this.update(id, {
      UpdateExpression: 'SET startedAt = :at, heartbeatAt = :at, updatedAt = :at, #rows = :zero ADD attempts :one',
      ConditionExpression: '#kind = :export AND #status = :running AND (attribute_not_exists(heartbeatAt) OR heartbeatAt < :stale)',
      ExpressionAttributeNames: { '#status': 'status', '#rows': 'rows', '#kind': 'kind' },
      ExpressionAttributeValues: { ':running': 'running', ':export': 'export', ':at': at, ':stale': staleBefore, ':zero': 0, ':one': 1 },
    })) as ExportJob | undefined;
  }

  async heartbeat(id: string, rows: number, at: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: 'SET heartbeatAt = :at, updatedAt = :at, #rows = :rows',
      ConditionExpression: '#status = :running',
      ExpressionAttributeNames: { '#status': 'status', '#rows': 'rows' },
      ExpressionAttributeValues: { ':running': 'running', ':at': at, ':rows': rows },
    });
  }

  async finish(id: string, result: JobResult): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status', '#rows': 'rows' };
    const values: Record<string, unknown> = { ':running': 'running', ':status': result.status, ':at': result.at, ':rows': result.rows };
    const sets = ['#status = :status', 'finishedAt = :at', 'updatedAt = :at', '#rows = :rows'];
    if (result.bytes !== undefined) {
      sets.push('bytes = :bytes');
      values[':bytes'] = result.bytes;
    }
    if (result.report) {
      sets.push('report = :report');
      values[':report'] = JSON.stringify(result.report);
    }
    if (result.reason) {
      sets.push('reason = :reason');
      values[':reason'] = result.reason.slice(0, 1000);
    }
    return (
      (await this.update(id, {
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: '#status = :running',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      })) !== undefined
    );
  }

  /** The job after a conditional update, or undefined when the condition failed (or there is no job). */
  private async update(
    id: string,
    input: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> },
  ): Promise<SubscriberJob | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.subscriberJob(id),
          ...input,
          ConditionExpression: `attribute_exists(PK) AND ${input.ConditionExpression}`,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? fromItem(out.Attributes) : undefined;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return undefined;
      throw e;
    }
  }
}
