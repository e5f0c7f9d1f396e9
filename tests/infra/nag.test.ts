import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config.ts';
import { addInkwireStacks } from '../../infra/inkwire-app.ts';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

/**
 * cdk-nag 3 is a CDK policy-validation plugin: its findings do not become annotations; they go to the
 * cloud assembly's validation-report.json (and, in tests, make app.synth() throw). Both are checked,
 * plus a direct run of both rule packs the app registers (AwsSolutions and Serverless) over the construct
 * tree, whose reports name every finding.
 */
function findings(s: Synthesized): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack.validateScope(s.app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`)),
  );
}

function reportedViolations(s: Synthesized): unknown[] {
  const report = JSON.parse(readFileSync(path.join(s.outdir, 'validation-report.json'), 'utf8'));
  return report.pluginReports.flatMap((p: { violations: unknown[] }) => p.violations);
}

const cache = new Map<string, Synthesized>();
/** One synthesis per configuration for the whole file. */
function synthesizedWith(context: Record<string, string>): Synthesized {
  const key = JSON.stringify(context);
  if (!cache.has(key)) cache.set(key, synthesize(context)); // throws on any unacknowledged finding
  return cache.get(key)!;
}

describe.each([
  ['a production configuration (custom certificate)', PRODUCTION_CONTEXT as Record<string, string>],
  ['the example configuration (default CloudFront certificate)', { example: 'true' }],
])('cdk-nag AwsSolutions and Serverless on %s', (_name, context) => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesizedWith(context);
  });

  it('has no unacknowledged finding of any level', () => {
    expect(findings(s)).toEqual([]);
    expect(reportedViolations(s)).toEqual([]);
  });

  it('leaves no error annotation on either stack', () => {
    for (const stack of [s.data, s.service]) {
      expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('(AwsSolutions|Serverless)-.*'))).toEqual([]);
      expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    }
  });

  it('states a specific reason for every acknowledgement', () => {
    const reasons: string[] = [];
    for (const construct of s.app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) reasons.push(...Object.values(entry.data as Record<string, string>));
      }
    }
    expect(reasons.length).toBeGreaterThan(5);
    for (const reason of reasons) expect(reason.length).toBeGreaterThan(60);
  });
});

describe('the example configuration', () => {
  it('synthesizes, but carries a rule that makes CloudFormation refuse to deploy it', () => {
    const s = synthesizedWith({ example: 'true' });
    for (const stack of [s.data, s.service]) {
      const rule = Template.fromStack(stack).toJSON().Rules.ExampleConfigurationGuard;
      expect(rule.Assertions[0].Assert['Fn::Equals'][0]).not.toEqual(rule.Assertions[0].Assert['Fn::Equals'][1]);
      expect(rule.Assertions[0].AssertDescription).toContain('"domain": "<your domain>"');
      expect(rule.Assertions[0].AssertDescription).toContain('cdk.json');
    }
  });
});

describe('the nag check itself', () => {
  it('reports a non-compliant resource (so an empty report above means something)', () => {
    const app = new App();
    new Queue(new Stack(app, 'Control'), 'PlainQueue', { enforceSSL: false });
    const ruleNames = new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName);
    expect(ruleNames).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });

  it('reports an untraced function without a dead-letter queue, and a queue without redrive, under the Serverless pack', () => {
    const app = new App();
    const stack = new Stack(app, 'ServerlessControl');
    new Queue(stack, 'PlainQueue', { enforceSSL: true });
    new LambdaFunction(stack, 'PlainFunction', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {}'),
    });
    const ruleNames = new ServerlessChecks().validateScope(app).violations.map((v) => v.ruleName);
    expect(ruleNames).toEqual(expect.arrayContaining(['Serverless-LambdaTracing', 'Serverless-LambdaDLQ', 'Serverless-SQSRedrivePolicy']));
  });

  it('registers the Serverless pack with the app, so `cdk synth` stops on its findings too', () => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'inkwire-cdk-')), context: { 'aws:cdk:bundling-stacks': [] } });
    const { service } = addInkwireStacks(app, parseConfig({ example: 'true' }));
    // Compliant for AwsSolutions (encrypted, TLS only, it has a dead-letter queue of its own) but not for Serverless.
    const dlq = new Queue(service, 'ControlDeadLetters', { enforceSSL: true, encryption: QueueEncryption.SQS_MANAGED });
    Validations.of(dlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'A control queue of this test: it is the dead-letter queue, and Serverless-SQSRedrivePolicy must still fire on it.',
    });
    new Queue(service, 'ControlQueue', { enforceSSL: true, encryption: QueueEncryption.SQS_MANAGED, deadLetterQueue: { queue: dlq, maxReceiveCount: 3 } });
    expect(() => app.synth()).toThrow(/Serverless-SQSRedrivePolicy/);
  });
});
