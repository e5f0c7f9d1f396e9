import { Tags, Validations, type App, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { parseConfig, readContext, type InkwireConfig } from './config.ts';
import { DataStack } from './stacks/data-stack.ts';
import { ServiceStack } from './stacks/service-stack.ts';

/**
 * CDK behaviours the stacks rely on, set here (unless cdk.json or -c already sets them) so that `cdk synth`
 * and the tests, which build their own App, produce the same templates.
 */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  // Exported references on purpose: the data stack cannot drop a value the service stack still uses.
  '@aws-cdk/core:defaultCrossStackReferences': 'strong',
  // S3 server access logs are delivered under a bucket policy for logging.s3.amazonaws.com, not the
  // deprecated LogDeliveryWrite canned ACL.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

export const STACK_NAMES = { data: 'Inkwire-Data', service: 'Inkwire-Service' } as const;

export interface InkwireStacks {
  config: InkwireConfig;
  data: DataStack;
  service: ServiceStack;
}

/**
 * Adds both stacks to `app`, configured from the app's context unless a configuration is given, and
 * registers the cdk-nag AwsSolutions and Serverless checks (run by CDK's policy validation at synthesis).
 */
export function addInkwireStacks(app: App, config: InkwireConfig = parseConfig(readContext((k) => app.node.tryGetContext(k)))): InkwireStacks {
  for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
    if (app.node.tryGetContext(flag) === undefined) app.node.setContext(flag, value);
  }
  // Environment-agnostic unless an account or region is configured: synthesis needs no credentials and
  // does no lookups; `cdk deploy` uses the account and region of the active AWS profile.
  const env: Environment | undefined =
    config.account || config.region
      ? { ...(config.account ? { account: config.account } : {}), ...(config.region ? { region: config.region } : {}) }
      : undefined;

  const data = new DataStack(app, STACK_NAMES.data, {
    env,
    config,
    description: `Inkwire data for ${config.domain}: table, feed bucket, secrets, SES identity (retained on delete)`,
    terminationProtection: !config.example,
  });
  const service = new ServiceStack(app, STACK_NAMES.service, {
    env,
    config,
    data,
    description: `Inkwire service for ${config.domain}: functions, queues, schedules, API, CloudFront, alarms`,
  });
  service.addStackDependency(data);

  Tags.of(app).add('inkwire:domain', config.domain);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { config, data, service };
}
