import * as z from 'zod';
import { fileURLToPath } from 'node:url';
import { MailEnvSchema, SiteEnvSchema } from '../config.ts';
import { SendEnvSchema } from '../core/sends/settings.ts';

/** The local runtime's environment (`npm start`): the shared site, mail and send settings, and its own. */
export const LocalEnvSchema = SiteEnvSchema.extend(MailEnvSchema.shape)
  .extend(SendEnvSchema.shape)
  .extend({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default('127.0.0.1'),
    DATA_DIR: z.string().default('.data'),
    INKWIRE_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    TABLE_NAME: z.string().default('inkwire'),
    /** Use an already running DynamoDB (e.g. a shared DynamoDB Local) instead of starting one. */
    DYNAMODB_ENDPOINT: z.string().url().optional(),
    /** Port of the local SES-compatible endpoint (0: any free port). */
    SES_PORT: z.coerce.number().int().min(0).max(65535).default(0),
    TEMPLATES_DIR: z.string().default(fileURLToPath(new URL('../../templates', import.meta.url))),
  });
