import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** Repository root: esbuild resolves `node_modules` and the lock file from here. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Each Lambda entry point, relative to the repository root. Each exports `handler`. */
export const FUNCTION_ENTRIES = {
  api: 'lambdas/handlers/api.ts',
  feedRebuild: 'lambdas/handlers/feed-rebuild.ts',
  sendPlanner: 'lambdas/handlers/send-planner.ts',
  sendWorker: 'lambdas/handlers/send-worker.ts',
  publishScheduled: 'lambdas/handlers/publish-scheduled.ts',
  digest: 'lambdas/handlers/digest.ts',
  subscriberImport: 'lambdas/handlers/subscriber-import.ts',
  subscriberJobs: 'lambdas/handlers/subscriber-jobs.ts',
  sendDeadLetter: 'lambdas/handlers/send-dead-letter.ts',
  sesEvents: 'lambdas/handlers/ses-events.ts',
} as const;

export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/**
 * ESM output cannot call `require`, yet some CommonJS dependencies still do (for Node built-ins);
 * esbuild's shim falls back to a global `require` when one exists, so the banner defines it.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * `@aws-sdk/*` stays out of the bundles: the nodejs22.x runtime ships SDK v3. Measured with esbuild
 * (minified, ESM): the SDK clients alone are 465 KB for the API's set (DynamoDB, SES, SQS, Scheduler)
 * and 557 KB for the feed rebuilder's (DynamoDB, S3), against 28 KB and 46 KB without them, so bundling
 * them would break the 500 KB budget before any application code.
 */
export const EXTERNAL_MODULES = ['@aws-sdk/*'];

/**
 * juice (CSS inlining for email) loads cheerio, whose full entry also brings a fetch client, charset
 * decoders and a second HTML parser for features juice never calls (about 1.2 MB minified). juice parses
 * with htmlparser2, which is what cheerio's `slim` entry is; tests/infra/bundles.test.ts runs the bundled
 * renderer to prove it.
 */
export const CHEERIO_SLIM = 'cheerio/slim';

/** Node.js version the bundles target; matches the Lambda runtime (nodejs22.x). */
export const NODE_TARGET = 'node22';

/**
 * The NodejsFunction bundling options shared by every function. Source maps are off: minified names
 * are kept (`keepNames`) for readable stack traces, and `--enable-source-maps` would slow every cold start.
 */
export const FUNCTION_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: NODE_TARGET,
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  minify: true,
  keepNames: true,
  sourceMap: false,
  externalModules: EXTERNAL_MODULES,
  esbuildArgs: { '--alias:cheerio': CHEERIO_SLIM },
  forceDockerBundling: false,
  // Email and page templates are read at run time (a publisher edits them without touching code), so
  // they ship beside the bundle: TEMPLATES_DIR=/var/task/templates.
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    // The console's chart library is served as a file, so it ships beside the console's own script.
    afterBundling: (inputDir: string, outputDir: string) => [
      `cp -R "${inputDir}/templates" "${outputDir}/templates"`,
      `mkdir -p "${outputDir}/templates/console/assets/uplot" && cp "${inputDir}/node_modules/uplot/dist/uPlot.iife.min.js" "${inputDir}/node_modules/uplot/dist/uPlot.min.css" "${outputDir}/templates/console/assets/uplot/"`,
    ],
  },
};

/**
 * The same build as {@link FUNCTION_BUNDLING}, expressed as esbuild API options, for tests and tools that
 * build a bundle without synthesizing the stacks (the bundle-size check).
 */
export function esbuildOptionsFor(entry: string, outfile: string) {
  return {
    entryPoints: [path.resolve(PROJECT_ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: NODE_TARGET,
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    keepNames: true,
    sourcemap: false,
    external: EXTERNAL_MODULES,
    alias: { cheerio: CHEERIO_SLIM },
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'warning' as const,
  };
}
