import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ExportJob, ImportJob, JobResult, SubscriberJob, SubscriberJobRepository } from '../../core/subscribers/jobs-ports.ts';
import { JOB_RECORD_DAYS } from '../../core/subscribers/jobs.ts';
import { isConditionalCheckFailed } from './errors.ts';
import { keys } from './keys.ts';
import { Update } from './update.ts';

const JOB_FIELDS = [
  'kind',
  'id',
  'status',
  'options',
  'createdAt',
  'updatedAt',
  'uploadExpiresAt',
  'startedAt',
  'heartbeatAt',
  'finishedAt',
  'rows',
  'bytes',
  'reason',
  'attempts',
] as const;

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
    const u = new Update().set('status', 'running').set('startedAt', at).set('heartbeatAt', at).set('updatedAt', at).set('rows', 0);
    u.when(u.equals('kind', 'import')).when(u.equals('status', 'awaiting-upload'));
    return (await this.update(id, u)) as ImportJob | undefined;
  }

  async claimExport(id: string, at: string, staleBefore: string): Promise<ExportJob | undefined> {
    const u = new Update().set('startedAt', at).set('heartbeatAt', at).set('updatedAt', at).set('rows', 0).add('attempts', 1);
    u.when(u.equals('kind', 'export'))
      .when(u.equals('status', 'running'))
      // A claimed export whose heartbeat stopped was left by a worker that died: another may take it over.
      .when(`(attribute_not_exists(${u.name('heartbeatAt')}) OR ${u.name('heartbeatAt')} < ${u.value(staleBefore)})`);
    return (await this.update(id, u)) as ExportJob | undefined;
  }

  async heartbeat(id: string, rows: number, at: string): Promise<void> {
    const u = new Update().set('heartbeatAt', at).set('updatedAt', at).set('rows', rows);
    await this.update(id, u.when(u.equals('status', 'running')));
  }

  async finish(id: string, result: JobResult): Promise<boolean> {
    const u = new Update().set('status', result.status).set('finishedAt', result.at).set('updatedAt', result.at).set('rows', result.rows);
    if (result.bytes !== undefined) u.set('bytes', result.bytes);
    if (result.report) u.set('report', JSON.stringify(result.report));
    if (result.reason) u.set('reason', result.reason.slice(0, 1000));
    return (await this.update(id, u.when(u.equals('status', 'running')))) !== undefined;
  }

  /** The job after a conditional update, or undefined when the condition failed (or there is no job). */
  private async update(id: string, u: Update): Promise<SubscriberJob | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({ ...u.when('attribute_exists(PK)').params(this.table, keys.subscriberJob(id)), ReturnValues: 'ALL_NEW' }),
      );
      return out.Attributes ? fromItem(out.Attributes) : undefined;
    } catch (e) {
      if (isConditionalCheckFailed(e)) return undefined;
      throw e;
    }
  }
}
