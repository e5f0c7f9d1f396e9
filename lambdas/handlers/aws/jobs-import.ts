import { systemClock } from '../../core/clock.ts';
import type { ImportRunDeps } from '../../core/subscribers/jobs.ts';
import { importDeps } from '../../compose/import.ts';
import { awsEnv, dynamo } from './env.ts';
import { awsJobBase } from './jobs.ts';

let deps: ImportRunDeps | undefined;
/** The import function's: the jobs and the subscriber repository. No mail, templates or token key: an import's confirmation requests go out as a send. */
export function awsImportRunDeps(): Promise<ImportRunDeps> {
  deps ??= { ...awsJobBase(), subscribers: importDeps(awsEnv(), dynamo(), awsEnv().TABLE_NAME, systemClock) };
  return Promise.resolve(deps);
}
