import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Article, ArticleStatus } from '../../core/articles/schema.ts';
import { SlugTaken, StaleArticle, type ArticleEffects, type ArticlePage, type ArticleRepository } from '../../core/articles/ports.ts';
import { IdempotencyConflict, type IdempotencyClaim, type IdempotencyRecord } from '../../core/idempotency.ts';
import { feedsOf, type FeedKey } from '../../core/feeds/feeds.ts';
import type { FeedEntryRef, FeedIndex } from '../../core/feeds/rebuild.ts';
import { keys, parseFeedEntrySortKey, type Key } from './keys.ts';
import { ANY_KEY_VALUE, decodeCursor, encodeCursor, failedConditions } from './errors.ts';
import { idempotencyPut, readIdempotency } from './idempotency.ts';
import { batchGetAll } from './batch.ts';
import { sendItem } from './send-repository.ts';

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

const ARTICLE_FIELDS = [
  'id',
  'slug',
  'title',
  'bodyFormat',
  'body',
  'contentHtml',
  'summary',
  'summaryDerived',
  'authors',
  'tags',
  'url',
  'urlDerived',
  'status',
  'publishAt',
  'publishedAt',
  'createdAt',
  'updatedAt',
  'version',
] as const;

function toItem(a: Article): Record<string, unknown> {
  return {
    ...keys.article(a.id),
    entity: 'article',
    ...a,
    ...keys.articleListGsi1(a.createdAt, a.id),
    ...(a.status === 'scheduled' && a.publishAt ? keys.scheduledGsi2(a.publishAt, a.id) : {}),
  };
}

function fromItem(item: Record<string, unknown>): Article {
  const a: Record<string, unknown> = {};
  for (const f of ARTICLE_FIELDS) if (item[f] !== undefined) a[f] = item[f];
  return a as unknown as Article;
}

function entryKeys(a: Article): Map<string, Key & { feed: FeedKey }> {
  const m = new Map<string, Key & { feed: FeedKey }>();
  if (!a.publishedAt) return m;
  for (const feed of feedsOf(a)) {
    const k = keys.feedEntry(feed, a.publishedAt, a.id);
    m.set(`${k.PK}|${k.SK}`, { ...k, feed });
  }
  return m;
}

/** Articles and their feed entries in the single table. */
export class DynamoArticleRepository implements ArticleRepository, FeedIndex {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(id: string): Promise<Article | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.article(id), ConsistentRead: true }));
    return Item ? fromItem(Item) : undefined;
  }

  async slugOwner(slug: string): Promise<string | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.table, Key: keys.slug(slug), ConsistentRead: true }));
    return typeof Item?.articleId === 'string' ? Item.articleId : undefined;
  }

  async create(article: Article, idempotency?: IdempotencyClaim, effects: ArticleEffects = {}): Promise<void> {
    const items: TransactItem[] = [
      { Put: { TableName: this.table, Item: toItem(article), ConditionExpression: 'attribute_not_exists(PK)' } },
      {
        Put: {
          TableName: this.table,
          Item: { ...keys.slug(article.slug), entity: 'slug', articleId: article.id },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
    ];
    const idemIndex = idempotency ? items.length : -1;
    if (idempotency) {
      items.push(idempotencyPut(this.table, idempotency));
    }
    for (const k of entryKeys(article).values()) items.push(this.entryPut(k, article));
    items.push(...this.effectItems(article, effects));
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      const failed = failedConditions(e);
      if (failed?.includes(idemIndex)) throw new IdempotencyConflict();
      if (failed?.includes(1)) throw new SlugTaken(article.slug);
      throw e;
    }
  }

  /** The instant-alert Send, created once per article (never again on edits or republication). */
  private effectItems(a: Article, effects: ArticleEffects): TransactItem[] {
    if (!effects.alert) return [];
    const { sendId, createdAt, deadline } = effects.alert;
    const alert = { id: sendId, kind: 'article', articleId: a.id, trigger: 'publish', status: 'pending', createdAt, deadline } as const;
    return [{ Put: { TableName: this.table, Item: sendItem(alert), ConditionExpression: 'attribute_not_exists(PK)' } }];
  }

  private entryPut(k: Key & { feed: FeedKey }, a: Article): TransactItem {
    // `rev` changes on every edit, so the entry's stream record tells the feed to rebuild.
    return { Put: { TableName: this.table, Item: { PK: k.PK, SK: k.SK, entity: 'feedEntry', articleId: a.id, rev: a.version } } };
  }

  async update(next: Article, prev: Article, effects: ArticleEffects = {}): Promise<void> {
    const before = entryKeys(prev);
    const after = entryKeys(next);
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.table,
          Item: toItem(next),
          ConditionExpression: '#v = :v',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':v': prev.version },
        },
      },
    ];
    for (const [id, k] of before) if (!after.has(id)) items.push({ Delete: { TableName: this.table, Key: { PK: k.PK, SK: k.SK } } });
    for (const k of after.values()) items.push(this.entryPut(k, next));
    const alertIndex = items.length;
    items.push(...this.effectItems(next, effects));
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      const failed = failedConditions(e);
      if (failed?.includes(0)) throw new StaleArticle(prev.id);
      if (failed?.includes(alertIndex) && effects.alert) {
        // The alert exists already (the article was published before, then unpublished): publish without it.
        return this.update(next, prev, {});
      }
      throw e;
    }
  }

  async delete(prev: Article): Promise<void> {
    const items: TransactItem[] = [
      {
        Delete: {
          TableName: this.table,
          Key: keys.article(prev.id),
          ConditionExpression: '#v = :v',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':v': prev.version },
        },
      },
    ];
    for (const k of entryKeys(prev).values()) items.push({ Delete: { TableName: this.table, Key: { PK: k.PK, SK: k.SK } } });
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      if (failedConditions(e)?.includes(0)) throw new StaleArticle(prev.id);
      throw e;
    }
  }

  async list(query: { status?: ArticleStatus | undefined; limit: number; cursor?: string | undefined }): Promise<ArticlePage> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.articleListPartition, ...(query.status ? { ':s': query.status } : {}) },
        ...(query.status ? { FilterExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' } } : {}),
        ScanIndexForward: false,
        Limit: query.limit,
        ExclusiveStartKey: decodeCursor(query.cursor, { PK: ANY_KEY_VALUE, SK: ANY_KEY_VALUE, GSI1PK: keys.articleListPartition, GSI1SK: ANY_KEY_VALUE }),
      }),
    );
    return { items: (out.Items ?? []).map(fromItem), next: encodeCursor(out.LastEvaluatedKey) };
  }

  async listDue(now: string, limit: number): Promise<Article[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk AND GSI2SK <= :now',
        ExpressionAttributeValues: { ':pk': keys.scheduledPartition, ':now': keys.scheduledDueBy(now) },
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map(fromItem);
  }

  getIdempotency(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
    return readIdempotency(this.db, this.table, scope, key);
  }

  // ---- FeedIndex: what a feed rebuild reads. All reads are strongly consistent (base table only).

  private async queryEntries(params: { feed: FeedKey; limit?: number; forward: boolean; from: string; to: string }): Promise<FeedEntryRef[]> {
    const refs: FeedEntryRef[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': keys.feedPartition(params.feed), ':from': params.from, ':to': params.to },
          ProjectionExpression: 'SK, articleId, rev',
          ScanIndexForward: params.forward,
          ConsistentRead: true,
          ...(params.limit ? { Limit: params.limit - refs.length } : {}),
          ExclusiveStartKey: start,
        }),
      );
      for (const it of out.Items ?? []) {
        const entry = parseFeedEntrySortKey(it.SK as string);
        if (entry) refs.push({ articleId: it.articleId as string, publishedAt: entry.publishedAt, rev: it.rev as number });
      }
      start = out.LastEvaluatedKey;
    } while (start && (!params.limit || refs.length < params.limit));
    return refs;
  }

  newest(feed: FeedKey, limit: number): Promise<FeedEntryRef[]> {
    return this.queryEntries({ feed, limit, forward: false, ...keys.feedEntries.all() });
  }

  month(feed: FeedKey, month: string): Promise<FeedEntryRef[]> {
    return this.queryEntries({ feed, forward: false, ...keys.feedEntries.month(month) });
  }

  async monthBefore(feed: FeedKey, month: string): Promise<string | undefined> {
    const [ref] = await this.queryEntries({ feed, limit: 1, forward: false, ...keys.feedEntries.before(month) });
    return ref?.publishedAt.slice(0, 7);
  }

  async monthAfter(feed: FeedKey, month: string): Promise<string | undefined> {
    const [ref] = await this.queryEntries({ feed, limit: 1, forward: true, ...keys.feedEntries.after(month) });
    return ref?.publishedAt.slice(0, 7);
  }

  async articles(ids: string[]): Promise<Map<string, Article>> {
    // The rebuild never needs the source body.
    const fields = ARTICLE_FIELDS.filter((f) => f !== 'body');
    const items = await batchGetAll(
      this.db,
      this.table,
      ids.map((id) => keys.article(id)),
      {
        consistentRead: true,
        projection: {
          ProjectionExpression: fields.map((f) => `#${f}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(fields.map((f) => [`#${f}`, f])),
        },
      },
    );
    const found = new Map<string, Article>();
    for (const it of items) {
      const a = fromItem(it);
      found.set(a.id, a);
    }
    return found;
  }
}
