import { inject } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTable, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambdas/local/dynamodb-local.ts';
import { newId } from '../../lambdas/core/ids.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

/** A fresh table in the run's DynamoDB Local, so test files never share data. */
export async function freshTable(prefix = 'test'): Promise<{ client: DynamoDBClient; doc: DynamoDBDocumentClient; tableName: string; endpoint: string }> {
  const endpoint = inject('dynamoEndpoint');
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const tableName = `${prefix}-${newId()}`;
  await ensureTable(client, tableName);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc, tableName, endpoint };
}

/** Every item of a send's partition as stored (the send, its delivery records, reports and tally markers), read consistently. */
export async function sendPartition(doc: DynamoDBDocumentClient, tableName: string, sendId: string): Promise<Record<string, unknown>[]> {
  const out = await doc.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.send(sendId).PK },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

/** A send's ledger as stored: its delivery records by subscriber id. */
export async function sendLedger(doc: DynamoDBDocumentClient, tableName: string, sendId: string): Promise<Map<string, Record<string, unknown>>> {
  const items = await sendPartition(doc, tableName, sendId);
  return new Map(items.filter((i) => String(i.SK).startsWith(keys.deliveryPrefix)).map((i) => [i.subscriberId as string, i]));
}
