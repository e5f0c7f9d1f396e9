import { createHash, timingSafeEqual } from 'node:crypto';

/** Decides whether a bearer key belongs to the publisher. */
export interface ApiKeyVerifier {
  verify(key: string): Promise<boolean>;
}

export const hashApiKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Keys known from configuration (INKWIRE_API_KEY locally, a Secrets Manager secret in AWS). */
export class StaticApiKeys implements ApiKeyVerifier {
  private readonly hashes: Buffer[];
  constructor(keys: string[]) {
    this.hashes = keys.filter(Boolean).map((k) => Buffer.from(hashApiKey(k), 'hex'));
  }
  async verify(key: string): Promise<boolean> {
    const h = Buffer.from(hashApiKey(key), 'hex');
    let ok = false;
    for (const known of this.hashes) ok = timingSafeEqual(h, known) || ok;
    return ok;
  }
}
