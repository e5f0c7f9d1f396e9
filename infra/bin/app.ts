import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { checkRecordedContext, ConfigError, parseConfig, readContext } from '../config.ts';
import { PROJECT_ROOT } from '../constructs/function-bundling.ts';
import { addInkwireStacks } from '../inkwire-app.ts';

/** The `context` object of the project's own cdk.json: the deployment's recorded settings. */
function recordedContext(): Record<string, unknown> {
  const file = path.join(PROJECT_ROOT, 'cdk.json');
  if (!existsSync(file)) return {};
  const context = (JSON.parse(readFileSync(file, 'utf8')) as { context?: unknown }).context;
  return context && typeof context === 'object' ? (context as Record<string, unknown>) : {};
}

const app = new App();
try {
  const given = readContext((k) => app.node.tryGetContext(k));
  // A -c value that cdk.json does not record (or records otherwise) would hold for this deploy only.
  checkRecordedContext(given, recordedContext());
  addInkwireStacks(app, parseConfig(given));
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  // The message already says what to set and how; a stack trace would only bury it.
  console.error(e.message);
  process.exit(1);
}
app.synth();
