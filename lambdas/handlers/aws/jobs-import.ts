import type { ImportRunDeps } from '../../core/subscribers/jobs.ts';
import { awsSubscriberDeps } from './mail.ts';
import { awsJobBase } from './jobs.ts';

let deps: Promise<ImportRunDeps> | undefined;
/** The import function's: the jobs, and the subscriber feature with its mail (confirmation emails). */
export function awsImportRunDeps(): Promise<ImportRunDeps> {
  return (deps ??= awsSubscriberDeps().then((subscribers) => ({ ...awsJobBase(), subscribers })));
}
