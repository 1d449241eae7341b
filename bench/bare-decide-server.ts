/**
 * The floor for `bench/bandits.ts`: a bare fastify server, in its own process like `kiban serve`,
 * whose `POST /v1/bandits/{name}/decide` parses and validates the same body with the same schema
 * and answers a constant decision. Prints `listening on URL`, stops on SIGTERM.
 *
 *   npx tsx bench/bare-decide-server.ts
 */
import Fastify from 'fastify';
import { decideRoute } from '../src/serving/bandit-schemas.js';

const app = Fastify();
const constant = { decisionId: '00000000-0000-0000-0000-000000000000', arms: ['item-0'], propensities: [1], version: 0 };
app.post('/v1/bandits/:name/decide', { schema: { body: decideRoute.body, response: { 200: decideRoute.response[200] } } }, async () => constant);
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
