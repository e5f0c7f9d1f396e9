import { inject } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRuntime, type LocalRuntime } from '../../lambdas/local/runtime.ts';
import { newId } from '../../lambdas/core/ids.ts';

export const TEST_KEY = 'test-publisher-key-0123456789';

/** A response whose JSON body tests may read without declaring its type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export interface TestRuntime extends LocalRuntime {
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<JsonResponse>;
  get(path: string, headers?: Record<string, string>): Promise<JsonResponse>;
  /** Polls a document until `check` passes (feeds are rebuilt asynchronously from the stream). */
  waitFor(path: string, check: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  cleanup(): Promise<void>;
}

/** The local runtime in this process, on a free port, against the run's DynamoDB Local and a fresh table. */
export async function startTestRuntime(env: Record<string, string> = {}): Promise<TestRuntime> {
  const dataDir = await mkdtemp(join(tmpdir(), 'inkwire-rt-'));
  const rt = await startLocalRuntime({
    env: {
      PORT: '0',
      DATA_DIR: dataDir,
      DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
      TABLE_NAME: `rt-${newId()}`,
      INKWIRE_API_KEY: TEST_KEY,
      SITE_URL: 'https://news.example.com',
      SITE_TITLE: 'Thin Line News',
      SITE_DESCRIPTION: 'Independent reporting',
      ...env,
    },
    log: process.env.TEST_RUNTIME_LOG ? (m: string, d?: unknown) => console.error(m, d ?? '') : () => undefined,
  });
  const api = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${TEST_KEY}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    }
    return fetch(rt.url + path, { ...init, headers, body });
  };
  const get = (path: string, headers: Record<string, string> = {}) => fetch(rt.url + path, { headers });
  const waitFor = async (path: string, check: (t: string) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const res = await get(path);
      last = res.status === 200 ? await res.text() : `HTTP ${res.status}`;
      if (res.status === 200 && check(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}; last answer:\n${last.slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    ...rt,
    api,
    get,
    waitFor,
    cleanup: async () => {
      await rt.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
