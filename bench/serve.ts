/**
 * Throughput and latency of GET /v1/users/{id}/recommendations?k=10 on the SQLite and Redis
 * serving stores, beside a bare fastify route that returns a constant list of the same size, all
 * in one run. The server runs in this process; the load comes from a second process
 * (bench/serve-load.ts, autocannon), each phase once at full speed and once at 1,000 requests/s.
 *
 *   npx tsx bench/serve.ts [--users 10000] [--seconds 10] [--redis redis://127.0.0.1:6379]
 *
 * Last line: JSON with every phase's figures, the ratios to the bare route and the machine.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { createServingApp } from '../src/serving/create-app.js';
import { jsonSchemaOf, recommendationsRoute } from '../src/serving/schemas.js';
import { outputJsonSchema } from '../src/serving/zod-serializer.js';
import { RedisServingStore } from '../src/storage/redis-serving-store.js';
import type { ScoredItem, ServingStore } from '../src/storage/serving-store.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const users = Number(values.users);
const seconds = Number(values.seconds);
const LIST = 100; // items published per user; requests ask for the first 10

interface LoadResult {
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  requests: number;
  non2xx: number;
  errors: number;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

async function load(url: string, rate?: number): Promise<LoadResult> {
  const args = [
    '--import',
    'tsx',
    'bench/serve-load.ts',
    '--url',
    url,
    '--users',
    String(users),
    '--seconds',
    String(seconds),
  ];
  // At a fixed rate, few connections: autocannon paces each connection separately, and many
  // connections at a low rate each would arrive in bursts that measure the generator, not us.
  if (rate !== undefined) args.push('--rate', String(rate), '--connections', '4');
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult;
}

async function publish(store: ServingStore): Promise<number> {
  const t0 = performance.now();
  const writer = await store.beginVersion(`bench-${Date.now()}`, { bench: true });
  const lists = function* (): Generator<[string, ScoredItem[]]> {
    for (let u = 1; u <= users; u++)
      yield [
        String(u),
        Array.from({ length: LIST }, (_, r) => ({
          id: (u * 7919 + r * 104729) % 50000,
          score: 1 - r / LIST,
        })),
      ];
  };
  await writer.putLists('user', lists());
  await writer.putLists('popular', [
    ['all', Array.from({ length: LIST }, (_, r) => ({ id: r, score: LIST - r }))],
  ]);
  await writer.commit();
  return (performance.now() - t0) / 1000;
}

async function phase(
  name: string,
  app: FastifyInstance,
): Promise<{ name: string; max: LoadResult; at1000: LoadResult }> {
  const url = await listen(app);
  await load(url, 2000).catch(() => undefined); // warm-up (JIT, caches); not reported
  const max = await load(url);
  const at1000 = await load(url, 1000);
  await app.close();
  console.log(
    `${name.padEnd(8)} ${max.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${max.latencyMs.p50} ms  p99 ${max.latencyMs.p99} ms | at 1,000 req/s: p50 ${at1000.latencyMs.p50} ms  p99 ${at1000.latencyMs.p99} ms  (non-2xx ${max.non2xx + at1000.non2xx})`,
  );
  return { name, max, at1000 };
}

// The bare route: the same schema as JSON Schema (so the same serialiser, fast-json-stringify)
// answering a constant list of 10.
const bare = Fastify();
const constant = {
  user: '1',
  items: Array.from({ length: 10 }, (_, r) => ({ id: r, score: 1 - r / 10 })),
  fallback: false,
};
bare.get(
  '/v1/users/:userId/recommendations',
  {
    schema: {
      params: jsonSchemaOf(recommendationsRoute.params),
      querystring: jsonSchemaOf(recommendationsRoute.querystring),
      response: { 200: outputJsonSchema(recommendationsRoute.response[200]) },
    },
  },
  async () => constant,
);
const results = [await phase('bare', bare)];

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-serve-'));
const sqlite = new SqliteServingStore(join(dir, 'serving.db'));
const sqlitePublish = await publish(sqlite);
results.push(await phase('sqlite', createServingApp({ serving: sqlite })));
await sqlite.close();
await rm(dir, { recursive: true, force: true });

const prefix = `kiban-bench-${process.pid}:`;
const redis = new RedisServingStore(values.redis!, { prefix });
const redisPublish = await publish(redis);
results.push(await phase('redis', createServingApp({ serving: redis })));
await redis.clear(); // everything the benchmark wrote, under its own prefix
await redis.close();

const base = results[0].max.requestsPerSecond;
const ratios = Object.fromEntries(
  results.slice(1).map((r) => [r.name, r.max.requestsPerSecond / base]),
);
console.log(
  `throughput vs the bare route: sqlite ${(ratios.sqlite * 100).toFixed(0)}%, redis ${(ratios.redis * 100).toFixed(0)}%`,
);
console.log(
  JSON.stringify({
    bench: 'serve',
    users,
    listLength: LIST,
    k: 10,
    seconds,
    publishSeconds: { sqlite: sqlitePublish, redis: redisPublish },
    phases: results,
    throughputRatioToBare: ratios,
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
  }),
);
