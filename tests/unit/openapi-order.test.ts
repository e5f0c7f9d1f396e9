// Core schemas load first here, before anything imports the OpenAPI extension: the API must still build
// its OpenAPI document with named components. Imported for their side effect only, so nothing can drop them.
import '../../lambdas/core/articles/schema.ts';
import '../../lambdas/core/subscribers/schema.ts';
import { describe, expect, it } from 'vitest';

describe('OpenAPI document, whatever the import order', () => {
  it('builds with named components when core schemas were created before the OpenAPI extension loaded', async () => {
    const { createApp } = await import('../../lambdas/http/app.ts');
    const { subscriberRoutes } = await import('../../lambdas/http/routes/subscribers.ts');
    const app = createApp({ articles: {} as never, apiKeys: { verify: async () => true }, mounts: [{ path: '/api', app: subscriberRoutes({} as never) }] });
    const res = await app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Article', 'ArticleInput', 'ArticlePatch', 'Subscriber', 'Error']));
  });
});
