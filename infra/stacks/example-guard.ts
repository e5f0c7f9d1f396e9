import { Annotations, CfnRule, Fn, type Stack } from 'aws-cdk-lib';
import type { InkwireConfig } from '../config.ts';

const MESSAGE =
  'This template was synthesized from the example configuration (-c example=true) and cannot be deployed. ' +
  'Record your own values in the "context" object of cdk.json ("domain": "<your domain>", "postalAddress": "<your postal address>"; see "Deploy to AWS" in README.md) and synthesize again without -c example=true.';

/**
 * A stack synthesized from the example configuration carries a CloudFormation rule whose assertion is
 * always false, so CloudFormation rejects the change set before touching any resource. `cdk synth`
 * still works (CI needs it); only a deployment fails.
 */
export function guardExampleDeployment(stack: Stack, config: InkwireConfig): void {
  if (!config.example) return;
  new CfnRule(stack, 'ExampleConfigurationGuard', {
    assertions: [{ assert: Fn.conditionEquals('example-configuration', 'deployable-configuration'), assertDescription: MESSAGE }],
  });
  Annotations.of(stack).addWarningV2('inkwire:exampleConfiguration', MESSAGE);
}
