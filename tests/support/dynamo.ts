import { inject } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { newId } from '../../lambdas/core/ids.ts';

/** A fresh table in the run's DynamoDB Local, so test files never share data. */
export async function freshTable(prefix = 'test'): Promise<{ client: DynamoDBClient; doc: DynamoDBDocumentClient; tableName: string; endpoint: string }> {
  const endpoint = inject('dynamoEndpoint');
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const tableName = `${prefix}-${newId()}`;
  await ensureTable(client, tableName);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc, tableName, endpoint };
}
