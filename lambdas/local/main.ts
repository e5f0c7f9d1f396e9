import { startLocalRuntime } from './runtime.ts';

const started = Date.now();
const runtime = await startLocalRuntime().catch((e: unknown) => {
  console.error(`Inkwire could not start: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

const u = runtime.url;
console.log(`
Inkwire is running at ${u}  (ready in ${((Date.now() - started) / 1000).toFixed(1)} s, data in ${runtime.dataDir})
Console ${u}/admin/  (sign in with the key printed below)

  Feeds       ${u}/feed.xml   ${u}/atom.xml   ${u}/feed.json
              per tag: ${u}/tags/<tag>/feed.xml   per author: ${u}/authors/<author>/feed.xml
  API docs    ${u}/api/docs   (OpenAPI: ${u}/api/openapi.json)
  Outbox      ${u}/_dev/outbox   (every email sent locally; SES endpoint ${runtime.sesEndpoint})
  Health      ${u}/health
  API key     ${runtime.apiKey}

  Try:  curl -X POST ${u}/api/articles -H 'Authorization: Bearer ${runtime.apiKey}' \\
          -H 'Content-Type: application/json' -d '{"title":"Hello","body":"First post","status":"published"}'
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping…');
    await runtime.stop();
    process.exit(0);
  });
}
