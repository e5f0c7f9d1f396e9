import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION_CONTEXT, synthesize, type Synthesized } from './support/synth.ts';

/**
 * cdk-nag 3 is a CDK policy-validation plugin: its findings do not become annotations; they go to the
 * cloud assembly's validation-report.json (and, in tests, make app.synth() throw). Both are checked,
 * plus a direct run of the rule pack over the construct tree, whose report names every finding.
 */
function findings(s: Synthesized): string[] {
  const report = new AwsSolutionsChecks().validateScope(s.app);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`));
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
])('cdk-nag AwsSolutions on %s', (_name, context) => {
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
      expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
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
});
