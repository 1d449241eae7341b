/**
 * The floor for the latency benchmarks (bench/bandits.ts, bench/tags-serve.ts): a bare fastify
 * server, in its own process like `kiban serve`, whose `POST /v1/bandits/{name}/decide` and
 * `POST /v1/tags/suggest` parse and validate the same bodies with the same schemas as kiban's
 * routes and answer a constant. Prints `listening on URL`, stops on SIGTERM.
 *
 *   npx tsx bench/bare-server.ts
 */
import Fastify from 'fastify';
import { decideRoute } from '../src/serving/bandit-schemas.js';
import { jsonSchemaOf, tagSuggestRoute } from '../src/serving/schemas.js';
import { outputJsonSchema } from '../src/serving/zod-serializer.js';

const app = Fastify();
const decision = {
  decisionId: '00000000-0000-0000-0000-000000000000',
  arms: ['item-0'],
  propensities: [1],
  version: 0,
};
app.post(
  '/v1/bandits/:name/decide',
  {
    schema: {
      body: jsonSchemaOf(decideRoute.body),
      response: { 200: outputJsonSchema(decideRoute.response[200]) },
    },
  },
  async () => decision,
);
const tags = [{ tag: 'bare', score: 1 }];
app.post(
  '/v1/tags/suggest',
  { schema: { body: tagSuggestRoute.body, response: { 200: tagSuggestRoute.response[200] } } },
  async () => tags,
);
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(
  `listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`,
);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
