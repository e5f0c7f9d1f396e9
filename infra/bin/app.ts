import { App } from 'aws-cdk-lib';
import { ConfigError } from '../config.ts';
import { addInkwireStacks } from '../inkwire-app.ts';

const app = new App();
try {
  addInkwireStacks(app);
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  // The message already says what to set and how; a stack trace would only bury it.
  console.error(e.message);
  process.exit(1);
}
app.synth();
