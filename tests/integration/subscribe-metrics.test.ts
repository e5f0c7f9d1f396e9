import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSubscriberHarness, type SubscriberHarness } from '../support/subscriber-harness.ts';
import { subscribe } from '../../lambdas/core/subscribers/use-cases.ts';
import { METRICS } from '../../lambdas/compose/observability.ts';
import { PowertoolsObservability } from '../../lambdas/adapters/observability/powertools.ts';
import { jsonWrittenToStdout } from '../support/emf.ts';

/**
 * Subscribe outcomes as the AWS composition counts them (handlers/aws/mail.ts): the use case tells
 * `onSubscribed`, which adds to the metric Subscribes by outcome. Through the real HTTP route, DynamoDB
 * Local and the local SES endpoint; the EMF Powertools writes is read back from stdout.
 */

let h: SubscriberHarness;
beforeAll(async () => {
  h = await startSubscriberHarness();
});
afterAll(async () => {
  await h?.stop();
});

describe('subscribe outcomes as metrics', () => {
  it('counts each POST /subscribe by what it did, which the answer never shows', async () => {
    const saved = process.env.POWERTOOLS_DEV;
    delete process.env.POWERTOOLS_DEV;
    const obs = new PowertoolsObservability();
    const outcomes: string[] = [];
    h.deps.onSubscribed = (outcome) => {
      outcomes.push(outcome);
      obs.metrics.count(METRICS.subscribes, 1, { outcome });
    };
    try {
      const emf = await jsonWrittenToStdout(async () => {
        for (const email of ['first@example.org', 'second@example.org']) {
          const res = await fetch(`${h.url}/subscribe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
          expect(res.status).toBe(202);
        }
        // The same address again, past the route's rate limits: pending, so the confirmation goes out again.
        expect(await subscribe(h.deps, { email: 'first@example.org' })).toBe('confirmationResent');
      });
      expect(outcomes).toEqual(['created', 'created', 'confirmationResent']);
      const subscribes = emf.filter((d) => '_aws' in d && 'Subscribes' in d);
      expect(subscribes.map((d) => [d.outcome, d.Subscribes])).toEqual([
        ['created', 1],
        ['created', 1],
        ['confirmationResent', 1],
      ]);
      for (const d of subscribes) {
        expect(d).toMatchObject({
          service: 'inkwire',
          _aws: { CloudWatchMetrics: [{ Namespace: 'Inkwire', Dimensions: [['service', 'outcome']], Metrics: [{ Name: 'Subscribes', Unit: 'Count' }] }] },
        });
      }
    } finally {
      h.deps.onSubscribed = undefined;
      if (saved !== undefined) process.env.POWERTOOLS_DEV = saved;
    }
  });
});
