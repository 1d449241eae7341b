/**
 * The floor for bench/features-online.ts: a bare fastify server, in its own process like `kiban
 * serve`, whose `POST /v1/features/online` parses and validates the same bodies with the same
 * zod schema as kiban's route (same validator compiler) and answers a constant of the same shape
 * and size as kiban's answer (`features` as asked, then per entity `width` values and statuses
 * and one view's event time), built once per request shape and sent pre-serialised as kiban's is. So the
 * difference to kiban's route is the online store read and the answer's assembly.
 * Prints `listening on URL`, stops on SIGTERM.
 *
 *   npx tsx bench/features-bare-server.ts
 */
import Fastify, { type FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { onlineFeaturesRoute } from '../src/serving/routes/features.js';
import { zodSerializerCompiler } from '../src/serving/zod-serializer.js';
import { zodValidatorCompiler } from '../src/serving/zod-validator.js';

const app = Fastify();
app.setValidatorCompiler(zodValidatorCompiler);
app.setSerializerCompiler(zodSerializerCompiler);
// One answer per (features, entities) count: what kiban answers for values like the bench's.
const answers = new Map<string, string>();
app
  .withTypeProvider<ZodTypeProvider>()
  .post('/v1/features/online', { schema: onlineFeaturesRoute }, async (request, reply) => {
    const features = request.body.features ?? [];
    const shape = `${features.length}x${request.body.entities.length}`;
    let answer = answers.get(shape);
    if (answer === undefined) {
      const eventTime = Date.now();
      answer = JSON.stringify({
        features,
        results: request.body.entities.map(() => ({
          values: features.map((_, i) => Math.round((i % 97) * 1.37 * 100) / 100),
          statuses: features.map(() => 'present'),
          eventTimes: { [features[0]?.split(':')[0] ?? 'view']: eventTime },
        })),
      });
      answers.set(shape, answer);
    }
    return (reply as FastifyReply).type('application/json; charset=utf-8').send(answer);
  });
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(
  `listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`,
);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
