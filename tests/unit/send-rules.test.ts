import { describe, expect, it } from 'vitest';
import { audienceOf, digestFor, digestSince, eligibility, MAX_DIGEST_ARTICLES, topicsMatch } from '../../lambdas/core/sends/audience.ts';
import { pauseReason } from '../../lambdas/core/sends/settlement.ts';
import { toSendOutput } from '../../lambdas/core/sends/use-cases.ts';
import { zeroSkips, type DigestCandidate, type Recipient, type Send, type SendContent } from '../../lambdas/core/sends/model.ts';

const recipient = (over: Partial<Recipient> = {}): Recipient => ({
  id: 'r1',
  email: 'r1@example.org',
  emailHash: 'h',
  status: 'confirmed',
  frequency: 'daily',
  topics: [],
  paused: false,
  confirmedAt: '2024-01-01T00:00:00.000Z',
  ...over,
});
const article = (id: string, publishedAt: string, tags: string[] = []): DigestCandidate => ({
  id,
  title: id,
  summary: '',
  url: `https://news.example.com/${id}/`,
  publishedAt,
  tags,
});
const digest: SendContent = {
  kind: 'digest',
  period: 'daily',
  windowEnd: '2024-02-11T08:00:00.000Z',
  articles: [
    article('c', '2024-02-11T07:00:00.000Z', ['science']),
    article('b', '2024-02-10T20:00:00.000Z', ['politics']),
    article('a', '2024-02-10T06:00:00.000Z'),
  ],
};
const send = (over: Partial<Send> = {}): Send => ({
  id: 's1',
  kind: 'digest',
  trigger: 'schedule',
  status: 'sending',
  createdAt: '2024-02-11T08:00:00.000Z',
  deadline: '2024-02-11T20:00:00.000Z',
  frequency: 'daily',
  counts: { planned: 1000, submitted: 0, failed: 0, suppressed: 0, skipped: 0, uncertain: 0 },
  skippedBy: zeroSkips(),
  errors: {},
  generation: 1,
  plan: { done: true, pages: 1, batches: 20, skipped: 0, skippedBy: {}, perBatch: 50 },
  batchesDone: 0,
  ...over,
});

/** The reason code of a skip, or the outcome when it is not one. */
const why = (e: ReturnType<typeof eligibility>) => (e.kind === 'skipped' ? e.code : e.kind);

describe('who gets what', () => {
  it('counts a digest from the later of the last digest (any frequency) and the confirmation', () => {
    expect(digestSince(recipient())).toBe('2024-01-01T00:00:00.000Z');
    expect(digestSince(recipient({ lastDigestAt: { daily: '2024-02-10T08:00:00.000Z' } }))).toBe('2024-02-10T08:00:00.000Z');
    expect(digestSince(recipient({ lastDigestAt: { weekly: '2024-02-10T09:00:00.000Z', daily: '2024-02-09T08:00:00.000Z' } }))).toBe(
      '2024-02-10T09:00:00.000Z',
    );
    expect(digestSince(recipient({ confirmedAt: '2024-02-11T06:30:00.000Z', lastDigestAt: { daily: '2024-02-10T08:00:00.000Z' } }))).toBe(
      '2024-02-11T06:30:00.000Z',
    );
  });

  it('selects the articles since then that match the topics, newest first, and nothing for someone caught up', () => {
    const ids = (r: Recipient) => digestFor(r, digest.kind === 'digest' ? digest.articles : []).map((a) => a.id);
    expect(ids(recipient({ lastDigestAt: { daily: '2024-02-10T08:00:00.000Z' } }))).toEqual(['c', 'b']);
    expect(ids(recipient({ topics: ['politics'] }))).toEqual(['b']);
    expect(ids(recipient({ confirmedAt: '2024-02-11T07:30:00.000Z' }))).toEqual([]);
    const many = Array.from({ length: 40 }, (_, i) => article(`x${i}`, `2024-02-10T${String(10 + (i % 10)).padStart(2, '0')}:00:00.000Z`));
    expect(digestFor(recipient(), many)).toHaveLength(MAX_DIGEST_ARTICLES);
  });

  it('never mails the suppressed, unsubscribed, unconfirmed, paused or those who moved to another frequency', () => {
    const article1: SendContent = {
      kind: 'article',
      article: { id: 'a', title: 'A', url: 'https://x.example/a', contentHtml: '<p>a</p>', summary: 'a', tags: ['politics'] },
    };
    const alert = { kind: 'article' as const, frequency: 'instant' as const };
    expect(eligibility(alert, article1, recipient({ frequency: 'instant' }), false)).toEqual({ kind: 'send' });
    expect(eligibility(alert, article1, recipient({ frequency: 'instant' }), true).kind).toBe('suppressed');
    expect(eligibility(alert, article1, recipient({ frequency: 'instant', status: 'suppressed' }), false).kind).toBe('suppressed');
    expect(eligibility(alert, article1, recipient({ frequency: 'instant', status: 'unsubscribed' }), false)).toEqual({
      kind: 'skipped',
      code: 'unsubscribed',
      reason: 'the subscriber is unsubscribed',
    });
    expect(why(eligibility(alert, article1, recipient({ frequency: 'instant', status: 'pending' }), false))).toBe('unconfirmed');
    expect(why(eligibility(alert, article1, recipient({ frequency: 'instant', paused: true }), false))).toBe('paused');
    expect(why(eligibility(alert, article1, recipient({ frequency: 'daily' }), false))).toBe('frequencyChanged');
    expect(why(eligibility(alert, article1, recipient({ frequency: 'instant', topics: ['science'] }), false))).toBe('topicsExcludeAll');
    expect(why(eligibility(alert, article1, undefined, false))).toBe('deleted');
    expect(eligibility({ kind: 'article', frequency: 'all' }, article1, recipient({ frequency: 'weekly' }), false).kind).toBe('send');
    expect(eligibility({ kind: 'digest', frequency: 'daily' }, digest, recipient({ confirmedAt: '2024-02-11T07:30:00.000Z' }), false)).toEqual({
      kind: 'skipped',
      code: 'nothingNew',
      reason: 'nothing new since the subscriber\u2019s last digest',
    });
    // New articles, none on their topics: a different reason from nothing new at all.
    expect(why(eligibility({ kind: 'digest', frequency: 'daily' }, digest, recipient({ topics: ['sport'] }), false))).toBe('topicsExcludeAll');
  });

  it('pages the right audience partitions and matches topics', () => {
    expect(audienceOf({ kind: 'article', frequency: undefined })).toEqual(['instant']);
    expect(audienceOf({ kind: 'article', frequency: 'all' })).toEqual(['instant', 'daily', 'weekly']);
    expect(audienceOf({ kind: 'digest', frequency: 'weekly' })).toEqual(['weekly']);
    expect(topicsMatch([], ['x'])).toBe(true);
    expect(topicsMatch(['x'], [])).toBe(false);
  });

  it('asks only pending subscribers (of the import, when the send names one) to confirm, never a suppressed address', () => {
    const confirm = { kind: 'confirmation' as const, frequency: undefined };
    const ofImport: SendContent = { kind: 'confirmation', importId: 'imp1' };
    const anyPending: SendContent = { kind: 'confirmation' };
    expect(eligibility(confirm, ofImport, recipient({ status: 'pending', importId: 'imp1', confirmedAt: undefined }), false)).toEqual({ kind: 'send' });
    expect(why(eligibility(confirm, ofImport, recipient({ status: 'pending', importId: 'imp2' }), false))).toBe('otherImport');
    expect(eligibility(confirm, ofImport, recipient({ status: 'confirmed', importId: 'imp1' }), false)).toEqual({
      kind: 'skipped',
      code: 'alreadyConfirmed',
      reason: 'the subscriber is confirmed',
    });
    expect(why(eligibility(confirm, ofImport, recipient({ status: 'unsubscribed', importId: 'imp1' }), false))).toBe('unsubscribed');
    expect(eligibility(confirm, ofImport, recipient({ status: 'pending', importId: 'imp1' }), true).kind).toBe('suppressed');
    expect(eligibility(confirm, anyPending, recipient({ status: 'pending' }), false)).toEqual({ kind: 'send' });
  });
});

describe('pausing and reporting', () => {
  const settings = { errorThreshold: 0.05, errorMinAttempts: 100 };

  it('pauses past the error threshold only after enough attempts, and says why', () => {
    expect(pauseReason(send({ counts: { planned: 1000, submitted: 40, failed: 10, suppressed: 0, skipped: 0, uncertain: 0 } }), settings)).toBeUndefined();
    expect(pauseReason(send({ counts: { planned: 1000, submitted: 95, failed: 5, suppressed: 0, skipped: 0, uncertain: 0 } }), settings)).toBeUndefined();
    const reason = pauseReason(
      send({
        counts: { planned: 1000, submitted: 94, failed: 6, suppressed: 0, skipped: 0, uncertain: 0 },
        errors: { MessageRejected: { count: 6, message: 'Email address is not verified.' } },
      }),
      settings,
    );
    expect(reason).toBe(
      '6 of 100 attempts failed (6%), above the 5% threshold; most frequent error: MessageRejected (6x): Email address is not verified.. Fix the cause, then POST /api/sends/s1/resume (failed recipients are tried again).',
    );
    // After a resume, only what came after counts.
    expect(
      pauseReason(
        send({ counts: { planned: 1000, submitted: 150, failed: 6, suppressed: 0, skipped: 0, uncertain: 0 }, errorBaseline: { attempts: 100, failed: 6 } }),
        settings,
      ),
    ).toBeUndefined();
  });

  it('reports progress, rate and an ETA', () => {
    const now = new Date('2024-02-11T08:01:40.000Z');
    const out = toSendOutput(
      send({ startedAt: '2024-02-11T08:00:00.000Z', counts: { planned: 1000, submitted: 380, failed: 5, suppressed: 10, skipped: 5, uncertain: 0 } }),
      now,
    );
    expect(out.progress).toBe(0.4);
    expect(out.rate).toBe(4);
    expect(out.eta).toBe('2024-02-11T08:04:10.000Z');
    expect(toSendOutput(send({ status: 'completed', completedAt: '2024-02-11T08:05:00.000Z', startedAt: '2024-02-11T08:00:00.000Z' }), now)).toMatchObject({
      progress: 1,
      eta: undefined,
    });
  });
});
