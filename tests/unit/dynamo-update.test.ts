import { describe, expect, it } from 'vitest';
import { Update } from '../../lambdas/adapters/dynamodb/update.ts';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

describe('Update', () => {
  it('aliases every name once, removes what is set to undefined, and joins the conditions', () => {
    const u = new Update().set('status', 'sending').set('reason', undefined).add('batchesDone', 1).add('errorCounts.Throttling', 2);
    u.when(u.equals('status', 'planning')).when(u.inList('kind', ['article', 'digest']));
    expect(u.params('t', keys.send('s1'))).toEqual({
      TableName: 't',
      Key: { PK: 'SEND#s1', SK: 'SEND' },
      UpdateExpression: 'SET #status_0 = :v0 ADD #batchesDone_2 :v1, #errorCounts_3.#Throttling_4 :v2 REMOVE #reason_1',
      ConditionExpression: '#status_0 = :v3 AND #kind_5 IN (:v4, :v5)',
      ExpressionAttributeNames: {
        '#status_0': 'status',
        '#reason_1': 'reason',
        '#batchesDone_2': 'batchesDone',
        '#errorCounts_3': 'errorCounts',
        '#Throttling_4': 'Throttling',
        '#kind_5': 'kind',
      },
      ExpressionAttributeValues: { ':v0': 'sending', ':v1': 1, ':v2': 2, ':v3': 'planning', ':v4': 'article', ':v5': 'digest' },
    });
  });

  it('leaves out the condition and the values when there are none', () => {
    const params = new Update().remove('planCursor').params('t', keys.send('s1'));
    expect(params).toEqual({
      TableName: 't',
      Key: { PK: 'SEND#s1', SK: 'SEND' },
      UpdateExpression: 'REMOVE #planCursor_0',
      ExpressionAttributeNames: { '#planCursor_0': 'planCursor' },
    });
  });
});
