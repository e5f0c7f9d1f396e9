import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { parseConfig } from '../../../infra/config.ts';
import { addInkwireStacks, type InkwireStacks } from '../../../infra/inkwire-app.ts';

/** A production-shaped configuration: custom certificate, alarm email and WebSub hub all set. */
export const PRODUCTION_CONTEXT = {
  domain: 'news.example.org',
  siteUrl: 'https://www.example.org',
  siteTitle: 'Example Org News',
  siteDescription: 'What the example organisation is up to',
  language: 'en-GB',
  postalAddress: 'Example Org, 2 Test Road, Testville TE5 7AA, UK',
  sesMaxSendRate: '14',
  dailyCron: 'cron(30 7 * * ? *)',
  weeklyCron: 'cron(0 9 ? * FRI *)',
  timezone: 'Europe/London',
  alarmEmail: 'ops@example.org',
  websubHub: 'https://pubsubhubbub.appspot.com/',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
} as const;

export interface Synthesized extends InkwireStacks {
  app: App;
  /** The cloud assembly directory, with validation-report.json from CDK's policy validation. */
  outdir: string;
}

/**
 * Builds and synthesizes the whole app once. Bundling is skipped (the `aws:cdk:bundling-stacks`
 * context set to no stack): templates do not depend on bundle contents, and the bundles have their
 * own test with the same esbuild options.
 */
export function synthesize(context: Record<string, string>): Synthesized {
  const outdir = mkdtempSync(path.join(tmpdir(), 'inkwire-cdk-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = addInkwireStacks(app, parseConfig(context));
  // Runs CDK's policy validation, including the cdk-nag plugin registered by addInkwireStacks; in tests
  // (NODE_ENV=test) an unacknowledged finding makes this throw with the finding in the message.
  app.synth();
  return { app, outdir, ...stacks };
}
