import * as path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal, type PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_BUNDLING, FUNCTION_ENTRIES, PROJECT_ROOT, type FunctionName } from './function-bundling.ts';

/** The part of a function's limits that the function itself carries (the rest shapes its event source). */
export interface FunctionLimits {
  timeoutSeconds: number;
  memoryMb: number;
}

export interface InkwireFunctionProps {
  /** Which entry under `lambdas/handlers/` this function runs. */
  entry: FunctionName;
  description: string;
  /**
   * How long it may run and how much memory it gets: the function's entry in `deploymentLimits(...)`
   * (infra/limits.ts), never numbers of its own.
   */
  limits: FunctionLimits;
  environment: Record<string, string>;
  /** A fixed physical name, for a function whose ARN must be known without referencing it. */
  functionName?: string;
  /** Everything the function may do besides writing its own logs. */
  statements?: PolicyStatement[];
}

/**
 * One Lambda function as Inkwire runs them: nodejs22.x on arm64, bundled locally by esbuild into one
 * ESM file, with its own role (no AWS managed policy: it may write to its own log group, send its X-Ray
 * traces and do what `statements` say, nothing else), its own log group with a retention period, and
 * active X-Ray tracing (the code's Powertools Tracer adds a subsegment per AWS SDK call).
 */
export class InkwireFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: InkwireFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the Inkwire ${props.entry} function`,
    });
    this.logGroup.grantWrite(this.role);
    for (const statement of props.statements ?? []) this.role.addToPolicy(statement);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, FUNCTION_ENTRIES[props.entry]),
      handler: 'handler',
      ...(props.functionName ? { functionName: props.functionName } : {}),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.limits.memoryMb,
      timeout: Duration.seconds(props.limits.timeoutSeconds),
      description: props.description,
      environment: props.environment,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      bundling: FUNCTION_BUNDLING,
    });
    // Active tracing gives the role xray:PutTraceSegments and xray:PutTelemetryRecords on `*`.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permission (the IAM reference lists no resource type for them); they only send this function’s own trace data.',
    });
    const runtimePinned =
      'Pinned to nodejs22.x on purpose: the bundles target node22, the runtime ships the AWS SDK v3 they leave out, and local development and CI run Node 20/22. Move to the next runtime with the bundle target in one change.';
    Validations.of(this.fn).acknowledge({ id: 'AwsSolutions-L1', reason: runtimePinned }, { id: 'Serverless-LambdaLatestVersion', reason: runtimePinned });
  }
}
