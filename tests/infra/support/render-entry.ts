// Bundled by tests/infra/bundles.test.ts with the functions' esbuild options, then run with node.
import { createEmailRenderer } from '../../../lambdas/core/email/templates.ts';

const renderer = createEmailRenderer({
  templatesDir: process.argv[2]!,
  branding: { siteName: 'Thin Line News', siteUrl: 'https://news.example.com', postalAddress: '1 Example Street' },
});
const out = await renderer.render('welcome', {
  recipient: { name: 'Ann', email: 'ann@example.com', unsubscribeUrl: 'https://news.example.com/u', preferencesUrl: 'https://news.example.com/p' },
} as never);
process.stdout.write(JSON.stringify({ subject: out.subject, inlined: /<[a-z]+[^>]* style="/.test(out.html), hasStyleBlockOnly: !/ style="/.test(out.html) }));
