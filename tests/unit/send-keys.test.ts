import { describe, expect, it } from 'vitest';
import { keys } from '../../lambdas/adapters/dynamodb/keys.ts';

// Items already stored under these keys must still be found: the layout is pinned.
describe('send item keys', () => {
  it('keeps a send\u2019s content, batch tally markers and delivery records in the send\u2019s partition', () => {
    expect(keys.sendContent('s1')).toEqual({ PK: 'SEND#s1', SK: 'CONTENT' });
    expect(keys.batchTally('s1', 2, '3.1')).toEqual({ PK: 'SEND#s1', SK: 'B#2#3.1' });
    expect(keys.delivery('s1', 'u1')).toEqual({ PK: 'SEND#s1', SK: 'D#u1' });
    // The ledger is read with begins_with(SK, 'D#'): no other send item may start so.
    for (const k of [keys.send('s1'), keys.sendContent('s1'), keys.batchTally('s1', 1, '0.0')]) expect(k.SK.startsWith('D#')).toBe(false);
  });

  it('indexes the digest archive newest first in one partition', () => {
    expect(keys.digestArchiveEntry('2024-02-11T08:00:00.000Z', 'd1')).toEqual({ PK: 'ARCHIVE#digests', SK: 'A#2024-02-11T08:00:00.000Z#d1' });
    expect(keys.digestArchivePartition).toBe(keys.digestArchiveEntry('x', 'y').PK);
  });
});
