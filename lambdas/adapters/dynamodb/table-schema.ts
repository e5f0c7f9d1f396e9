/**
 * The single table's shape, shared by the CDK stack and the local runtime so both create the same table.
 * Every item has PK and SK; the GSIs are sparse (an item is in an index only when it carries that index's
 * key attributes). GSI1 and GSI2 are overloaded and project every attribute. GSI3 indexes delivery records
 * by subscriber and projects only keys: a record is written to it once, when it is created, and the many
 * later updates of its state (none of which touch GSI3PK/GSI3SK) cost no index write.
 * `expiresAt` (epoch seconds) is the TTL attribute.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'PK',
  sortKey: 'SK',
  ttlAttribute: 'expiresAt',
  indexes: [
    { name: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK', projection: 'ALL' },
    { name: 'GSI2', partitionKey: 'GSI2PK', sortKey: 'GSI2SK', projection: 'ALL' },
    { name: 'GSI3', partitionKey: 'GSI3PK', sortKey: 'GSI3SK', projection: 'KEYS_ONLY' },
  ],
  streamViewType: 'NEW_AND_OLD_IMAGES',
} as const;
