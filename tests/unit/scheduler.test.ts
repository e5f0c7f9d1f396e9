import { describe, expect, it } from 'vitest';
import { atExpression } from '../../lambdas/adapters/scheduler/eventbridge-scheduler.ts';

describe('scheduled publishing in AWS', () => {
  it('rounds a one-time schedule up to the next whole second, never early', () => {
    expect(atExpression('2026-12-01T08:00:00.750Z')).toBe('2026-12-01T08:00:01');
    expect(atExpression('2026-12-01T08:00:00.000Z')).toBe('2026-12-01T08:00:00');
  });
});
