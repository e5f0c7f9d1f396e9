/**
 * The single table's shape, shared by the CDK stack and the local runtime so both create the same table.
 * Every item has PK and SK; GSI1 and GSI2 are overloaded sparse indexes (an item is in an index only
 * when it carries that index's key attributes). `expiresAt` (epoch seconds) is the TTL attribute.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'PK',
  sortKey: 'SK',
  ttlAttribute: 'expiresAt',
  indexes: [
    { name: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK' },
    { name: 'GSI2', partitionKey: 'GSI2PK', sortKey: 'GSI2SK' },
  ],
  streamViewType: 'NEW_AND_OLD_IMAGES',
} as const;
