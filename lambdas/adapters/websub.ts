import type { HubNotifier } from '../core/feeds/rebuild.ts';

/** Pings a WebSub hub (`hub.mode=publish`) after documents changed. A failed ping is logged, not fatal. */
export class HttpHubNotifier implements HubNotifier {
  constructor(
    private readonly hubUrl: string,
    private readonly fetchFn: typeof fetch = fetch,
    private readonly log: (msg: string, detail?: unknown) => void = (m, d) => console.warn(m, d ?? ''),
  ) {}

  async publish(urls: string[]): Promise<void> {
    for (const url of urls) {
      try {
        const res = await this.fetchFn(this.hubUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ 'hub.mode': 'publish', 'hub.url': url }).toString(),
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) this.log(`websub: hub answered ${res.status} for ${url}`);
      } catch (e) {
        this.log(`websub: could not reach hub for ${url}`, e instanceof Error ? e.message : e);
      }
    }
  }
}
