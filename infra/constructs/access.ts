import { Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../lambdas/adapters/dynamodb/table-schema.ts';

/**
 * IAM statements shared by the functions, written out action by action: no `dynamodb:*`, no `ses:*`,
 * and resources named one by one so a reviewer (and cdk-nag) can read exactly what each function may do.
 */

/** Item reads by key and by index. No Scan: every access path in the single table is a key or a GSI. */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;

/**
 * Item writes, including the conditional checks that transactions use (a TransactWriteItems call is
 * authorized item by item against these actions).
 */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
] as const;

/** The table and each of its GSIs by name (no `index/*`). */
export function tableResources(table: ITable): string[] {
  return [table.tableArn, ...TABLE_SCHEMA.indexes.map((index) => `${table.tableArn}/index/${index.name}`)];
}

export function tableStatement(table: ITable, actions: readonly string[]): PolicyStatement {
  return new PolicyStatement({ actions: [...actions], resources: tableResources(table) });
}

/** ARN of an SES configuration set in this stack's account and region. */
export function configurationSetArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({ service: 'ses', resource: 'configuration-set', resourceName: name });
}

/**
 * `ses:SendRawEmail` through one configuration set from one verified identity. SES authorizes a send
 * against both the identity and the configuration set named in the request, so both ARNs are listed
 * and nothing else: a send without the configuration set, or from another identity, is denied.
 */
export function sesSendStatement(identityArn: string, configurationSetArns: string[]): PolicyStatement {
  return new PolicyStatement({ actions: ['ses:SendRawEmail'], resources: [identityArn, ...configurationSetArns] });
}
