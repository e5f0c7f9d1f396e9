#!/usr/bin/env node
// The `inkwire` command: runs the TypeScript CLI directly (no build step) through tsx's loader.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../lambdas/cli/main.ts');
