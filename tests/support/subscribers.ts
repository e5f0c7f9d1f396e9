import { newId } from '../../lambdas/core/ids.ts';
import { emailHash, type Subscriber } from '../../lambdas/core/subscribers/schema.ts';

/**
 * A subscriber as the use cases create one (pending, from the form, version 1), for tests that write
 * through the repository directly; `over` sets anything else (a status, dates, an id).
 */
export function aSubscriber(email: string, over: Partial<Subscriber> = {}): Subscriber {
  const at = over.createdAt ?? '2024-02-11T10:00:00.000Z';
  return {
    id: newId(),
    email,
    emailHash: emailHash(email),
    status: 'pending',
    frequency: 'daily',
    topics: [],
    paused: false,
    createdAt: at,
    updatedAt: at,
    softBounces: 0,
    source: 'form',
    version: 1,
    ...over,
  };
}
