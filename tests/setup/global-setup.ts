import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../lambdas/local/dynamodb-local.ts';

/** One DynamoDB Local for the whole run; each test file creates its own table (see tests/support/dynamo.ts). */
export default async function setup(project: TestProject) {
  const ddb = await startDynamoDbLocal();
  project.provide('dynamoEndpoint', ddb.endpoint);
  return async () => {
    await ddb.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
