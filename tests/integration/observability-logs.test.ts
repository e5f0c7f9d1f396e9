import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { freshTable } from '../support/dynamo.ts';
import { deadLetterDeps } from '../../lambdas/compose/sending.ts';
import { createSendDeadLetterHandler } from '../../lambdas/handlers/send-dead-letter.ts';
import { PowertoolsObservability } from '../../lambdas/adapters/observability/powertools.ts';
import { consoleLog, formatLocalLine } from '../../lambdas/adapters/observability/console.ts';
import type { LogFn } from '../../lambdas/compose/observability.ts';

/**
 * The two implementations of the log, each behind the real send dead-letter handler against DynamoDB
 * Local: in AWS (Powertools) one JSON object per line with the Lambda context and the batch's send id; in
 * the local runtime one readable line per call. Output is captured in-process, from the streams the
 * loggers write to (Powertools writes to stdout through its own Console; the local log to stderr).
 */

/** Everything written to the streams while `run` runs, in order, split into lines. */
async function captured(streams: NodeJS.WriteStream[], run: () => Promise<void>): Promise<string[]> {
  const chunks: string[] = [];
  const saved = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof stream.write;
  }
  try {
    await run();
  } finally {
    for (const [i, stream] of streams.entries()) stream.write = saved[i]!;
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l !== '');
}
/** Lambda sends both to the function's log group; Powertools writes ERROR lines to stderr, the rest to stdout. */
const LAMBDA_OUTPUT = [process.stdout, process.stderr];

const context = (requestId: string): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'Inkwire-Service-SendDeadLetterHandlerFunction',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Inkwire-Service-SendDeadLetterHandlerFunction',
  memoryLimitInMB: '256',
  awsRequestId: requestId,
  logGroupName: '/aws/lambda/x',
  logStreamName: 'x',
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

const record = (messageId: string, body: string): SQSRecord => ({
  messageId,
  receiptHandle: 'rh',
  body,
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:send-dlq',
  awsRegion: 'eu-west-1',
});

const batch = (sendId: string, batchId: string) => JSON.stringify({ v: 1, sendId, generation: 1, batchId, recipients: [['sub-1', 'hash-1']] });

/** Three dead letters: a batch of a send that does not exist (settled as dropped), and one that is not a batch at all. */
const EVENT: SQSEvent = {
  Records: [record('msg-1', batch('send-unknown', 'batch-7')), record('msg-2', 'not a batch')],
};

let table: Awaited<ReturnType<typeof freshTable>>;
beforeAll(async () => {
  table = await freshTable('obs-logs');
});

describe('the AWS log (Powertools Logger)', () => {
  let savedEnv: Record<string, string | undefined>;
  beforeEach(() => {
    savedEnv = {
      POWERTOOLS_DEV: process.env.POWERTOOLS_DEV,
      AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME,
      AWS_LAMBDA_INITIALIZATION_TYPE: process.env.AWS_LAMBDA_INITIALIZATION_TYPE,
    };
    delete process.env.POWERTOOLS_DEV;
    // What Lambda sets in the function's environment (Powertools reports cold starts of on-demand environments only).
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'Inkwire-Service-SendDeadLetterHandlerFunction';
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(savedEnv))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it('writes one JSON object per line, each with the function, the cold start and the request id, and the batch\u2019s send id on its lines', async () => {
    const obs = new PowertoolsObservability();
    const handler = obs.instrument('sendDeadLetter', createSendDeadLetterHandler(deadLetterDeps({ db: table.doc, table: table.tableName, log: obs.log })));
    const lines = await captured(LAMBDA_OUTPUT, async () => {
      await handler(EVENT, context('req-first'));
      await handler(EVENT, context('req-second'));
    });

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const logLines = parsed.filter((l) => typeof l.message === 'string');
    expect(logLines).toHaveLength(4);
    for (const line of logLines) {
      expect(line).toMatchObject({
        service: 'inkwire',
        function: 'sendDeadLetter',
        function_name: 'Inkwire-Service-SendDeadLetterHandlerFunction',
        level: 'INFO',
      });
      expect(typeof line.timestamp).toBe('string');
    }
    const [settled, dropped, settledAgain] = logLines;
    expect(settled).toMatchObject({ function_request_id: 'req-first', cold_start: true, send_id: 'send-unknown', batch_id: 'batch-7', message_id: 'msg-1' });
    expect(settled!.message).toMatch(/^send send-unknown: batch batch-7 .* was given up after 5 attempts: dropped$/);
    // Not a batch: no send to name, still the request it belongs to.
    expect(dropped).toMatchObject({ function_request_id: 'req-first', detail: 'not a batch' });
    expect(dropped).not.toHaveProperty('send_id');
    expect(settledAgain).toMatchObject({ function_request_id: 'req-second', cold_start: false, send_id: 'send-unknown' });
  });

  it('logs a failure at ERROR with the error\u2019s name, message and stack, on one line with the send id', async () => {
    const obs = new PowertoolsObservability();
    // A table that does not exist: the real DynamoDB Local refuses the read, and the handler logs why.
    const handler = obs.instrument(
      'sendDeadLetter',
      createSendDeadLetterHandler(deadLetterDeps({ db: table.doc, table: `${table.tableName}-missing`, log: obs.log })),
    );
    let answer: Awaited<ReturnType<typeof handler>> | undefined;
    const lines = await captured(LAMBDA_OUTPUT, async () => {
      answer = await handler({ Records: [EVENT.Records[0]!] }, context('req-failing'));
    });
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-1' }] });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      level: 'ERROR',
      function: 'sendDeadLetter',
      function_request_id: 'req-failing',
      send_id: 'send-unknown',
      message_id: 'msg-1',
      error: { name: 'ResourceNotFoundException' },
    });
    expect(line.message).toBe('send send-unknown: given-up batch batch-7 could not be settled; it stays in the dead-letter queue');
    expect(line.error.stack).toContain('ResourceNotFoundException');
  });

  it('writes an error the handler throws, with the event\u2019s correlation keys, and rethrows it', async () => {
    const obs = new PowertoolsObservability();
    const handler = obs.instrument(
      'digest',
      async (_e: { frequency: string }) => {
        throw new Error('the table is gone');
      },
      (e) => ({ frequency: e.frequency }),
    );
    let thrown: unknown;
    const lines = await captured(LAMBDA_OUTPUT, async () => {
      thrown = await handler({ frequency: 'weekly' }, context('req-digest')).catch((e: unknown) => e);
    });
    expect(thrown).toBeInstanceOf(Error);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: 'digest failed',
        function: 'digest',
        frequency: 'weekly',
        function_request_id: 'req-digest',
        error: expect.objectContaining({ message: 'the table is gone' }),
      }),
    ]);
  });
});

describe('the local log (npm start)', () => {
  it('writes one readable line per call, no JSON, with the error described on the same line', async () => {
    const written: string[] = [];
    const log: LogFn = consoleLog((line) => written.push(line));
    const handler = createSendDeadLetterHandler(deadLetterDeps({ db: table.doc, table: `${table.tableName}-missing`, log }));
    await handler(EVENT);
    expect(written).toHaveLength(2);
    for (const line of written) {
      expect(line).not.toContain('\n');
      expect(() => JSON.parse(line)).toThrow();
    }
    expect(written[0]).toMatch(
      /^send send-unknown: given-up batch batch-7 could not be settled; it stays in the dead-letter queue ResourceNotFoundException: .+\(at .+\)$/,
    );
    expect(written[1]).toBe('send dead letter: dropping a message that is not a batch not a batch');
  });

  it('goes to stderr by default, as the runtime always logged', async () => {
    const lines = await captured([process.stderr], async () => {
      consoleLog()('feed rebuild failed (site)', { feed: 'site', attempts: 2 });
    });
    expect(lines).toEqual(["feed rebuild failed (site) { feed: 'site', attempts: 2 }"]);
  });

  it('keeps a detail that spans lines on one line, and names an error\u2019s cause', () => {
    const e = new Error('could not write /feed.xml', { cause: Object.assign(new Error('disk full'), { code: 'ENOSPC' }) });
    const line = formatLocalLine('feed rebuild failed', e);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/^feed rebuild failed Error: could not write \/feed\.xml \(at .+\) <- caused by Error: disk full \[ENOSPC\]/);
    expect(formatLocalLine('ses event', { snsMessageId: 'm-1', reports: [{ kind: 'delivered', outcome: 'recorded' }] })).toBe(
      "ses event { snsMessageId: 'm-1', reports: [ { kind: 'delivered', outcome: 'recorded' } ] }",
    );
    expect(formatLocalLine('two\nlines')).toBe('two \u21b5 lines');
  });
});
