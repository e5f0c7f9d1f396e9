import * as z from 'zod';
import { MailEnvSchema, SiteEnvSchema } from '../config.ts';
import { SendEnvSchema } from '../core/sends/settings.ts';

/** Every Lambda function's environment, as the stacks set it: the shared site, mail and send settings, and the resources it may use. */
export const AwsEnvSchema = SiteEnvSchema.extend(MailEnvSchema.shape)
  .extend(SendEnvSchema.shape)
  .extend({
    TABLE_NAME: z.string().min(1),
    SITE_URL: z.string().url(),
    PUBLIC_URL: z.string().url(),
    FEED_BUCKET: z.string().min(1).optional(),
    PUBLISHER_KEY_SECRET_ARN: z.string().min(1).optional(),
    TOKEN_SECRET_ARN: z.string().min(1).optional(),
    /** The secret CloudFront sends as the origin header; the API refuses requests without it (api only). */
    ORIGIN_SECRET_ARN: z.string().min(1).optional(),
    /** api only: the Easy DKIM CNAME targets (`<token>.dkim.amazonses.com`, comma-separated), for the console's DNS check. */
    DKIM_RECORDS: z.string().optional(),
    SCHEDULER_GROUP_NAME: z.string().min(1).optional(),
    SCHEDULER_ROLE_ARN: z.string().min(1).optional(),
    PUBLISH_FUNCTION_ARN: z.string().min(1).optional(),
    /** Templates ship beside each bundle (see infra/constructs/function-bundling.ts). */
    TEMPLATES_DIR: z.string().default(`${process.env.LAMBDA_TASK_ROOT ?? '/var/task'}/templates`),
  });
