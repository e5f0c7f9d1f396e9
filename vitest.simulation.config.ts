import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The deployment simulations (tests/simulation/): timing is what they check, so they run after the rest of
 * the suite, one file at a time, with the machine to themselves.
 */
export default defineConfig({
  test: {
    ...base.test,
    include: ['tests/simulation/**/*.test.ts'],
    exclude: [],
    fileParallelism: false,
    testTimeout: 600_000,
  },
});
