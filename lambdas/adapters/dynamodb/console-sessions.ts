import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SessionRevocations } from '../../http/console/session.ts';
import { keys } from './keys.ts';

/**
 * Console sessions ended by signing out, one small item each (`CONSOLE#<nonce>` / `REVOKED`), removed by
 * the table's TTL once the session would have expired anyway.
 */
export class DynamoSessionRevocations implements SessionRevocations {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async revoke(nonce: string, until: Date): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...keys.consoleSessionRevoked(nonce), entity: 'consoleSessionRevoked', expiresAt: Math.ceil(until.getTime() / 1000) },
      }),
    );
  }

  async isRevoked(nonce: string): Promise<boolean> {
    // Strongly consistent: a session signed out a moment ago must already be refused.
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.consoleSessionRevoked(nonce), ConsistentRead: true, ProjectionExpression: 'PK' }),
    );
    return Item !== undefined;
  }
}
