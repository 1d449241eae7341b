/**
 * Online feature serving over HTTP (issue 20 goals): `POST /v1/features/online` of a `kiban
 * serve` process (its own heap and event loop, as in production) reading a Redis online store,
 * beside a bare fastify route (bench/features-bare-server.ts: same body schema, constant answer of
 * the same size) in the same run.
 *
 * Data: `--entities` users (string keys), each with a row of view `wide` (250 float64 features)
 * and of view `narrow` (50 float64 features), written to Redis with RedisOnlineFeatureStore
 * under a fresh prefix (removed at the end). Two request kinds, bodies cycling over random users,
 * features named in the body (`view:feature`, all of the view's):
 * - single: 1 entity × 250 features; goal p99 ≤ 2 ms and ≥ 2,500 requests/s;
 * - batch: 100 entities × 50 features; goal p99 ≤ 15 ms.
 *
 * Latency at a fixed rate (the goal's 2,500/s, and `--low-rate` below saturation) from the
 * open-loop generator of bench/http-load.ts (the C one where
 * `cc` builds it; the batch answers, ~100 KB, are over its 64 KB receive buffer, so the batch
 * kind always uses bench/rate-load.ts), with the generator's own lateness (`lateMs`) beside the
 * p99; throughput at full speed with autocannon (bench/serve-load.ts, `--connections`).
 *
 *   npx tsx bench/features-online.ts [--redis redis://127.0.0.1:6379] [--entities 10000]
 *     [--single-rate 2500] [--batch-rate 100] [--seconds 10] [--connections 32]
 *     [--generator auto|c|node]
 *
 * Last line: JSON with both kinds for kiban and the bare route (requests/s, p50/p90/p99/max in
 * ms, lateness, errors), kiban − bare and kiban / bare at p99, goals, load average and machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisOnlineFeatureStore } from '../src/storage/redis-online-feature-store.js';
import type { OnlineWrite } from '../src/features/online-store.js';
import {
  type FixedRateGenerator,
  type FixedRateResult,
  fixedRateGenerator,
  measureAtRate,
  runFullSpeed,
} from './http-load.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

const HELP = `Usage: npx tsx bench/features-online.ts [options]

POST /v1/features/online of kiban serve over a Redis online store, beside a bare fastify route.

Options:
  --redis URL          Redis for the online store (default redis://127.0.0.1:6379)
  --entities N         users written to the store (default 10000)
  --single-rate R      requests/s of 1 entity x 250 features at a fixed rate (default 2500)
  --low-rate R         the same below saturation, for latency alone (default 500; 0: skip)
  --batch-rate R       requests/s of 100 entities x 50 features at a fixed rate (default 100)
  --seconds S          seconds measured per fixed-rate and full-speed run (default 10)
  --connections C      autocannon connections at full speed (default 32)
  --generator G        fixed-rate generator: auto (C where cc builds it), c or node (default auto)
  -h, --help           this text
Last line: one JSON object with the figures.`;

const { values } = parseArgs({
  options: {
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    entities: { type: 'string', default: '10000' },
    'single-rate': { type: 'string', default: '2500' },
    'low-rate': { type: 'string', default: '500' },
    'batch-rate': { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    generator: { type: 'string', default: 'auto' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const entities = Number(values.entities);
const seconds = Number(values.seconds);
const singleRate = Number(values['single-rate']);
const lowRate = Number(values['low-rate']);
const batchRate = Number(values['batch-rate']);
const connections = Number(values.connections);

const WIDE = 250;
const NARROW = 50;
const BATCH = 100;
const names = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
const wideFeatures = names('w', WIDE);
const narrowFeatures = names('n', NARROW);

// Seeded values with two decimals (as aggregates usually are), so answers are of a realistic size.
let seed = 42;
const random = (): number => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const value = (): number => Math.round(random() * 10_000) / 100;

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-features-'));
const prefix = `kiban-bench-features-${randomUUID()}:`;
const servers: ServerProcess[] = [];
try {
  // The repository: one entity, two views over a source never read here (online only).
  const yaml = [
    'entities:',
    '  user: { joinKey: user_id, type: string }',
    'sources:',
    '  stats: { path: data/stats.csv, timestamp: event_time }',
    'featureViews:',
    '  wide:',
    '    entities: [user]',
    '    source: stats',
    '    ttl: 0',
    `    features: { ${wideFeatures.map((f) => `${f}: float64`).join(', ')} }`,
    '  narrow:',
    '    entities: [user]',
    '    source: stats',
    '    ttl: 0',
    `    features: { ${narrowFeatures.map((f) => `${f}: float64`).join(', ')} }`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'features.yaml'), yaml);

  log(`writing ${entities} users × (${WIDE} + ${NARROW}) features to Redis under ${prefix}…`);
  const store = new RedisOnlineFeatureStore(values.redis, { prefix });
  const now = Date.now();
  for (const [view, features] of [
    ['wide', wideFeatures],
    ['narrow', narrowFeatures],
  ] as const) {
    for (let start = 0; start < entities; start += 1000) {
      const rows: OnlineWrite[] = [];
      for (let u = start; u < Math.min(entities, start + 1000); u += 1)
        rows.push({
          key: `u${u}`,
          eventTime: now,
          createdTime: now,
          values: features.map(value),
        });
      await store.write(view, features, rows);
    }
  }
  await store.close();

  // Bodies: 2,000 of each kind over random users.
  const user = (): string => `u${Math.floor(random() * entities)}`;
  const singleBodies = join(dir, 'single.jsonl');
  const wideRefs = wideFeatures.map((f) => `wide:${f}`);
  await writeFile(
    singleBodies,
    Array.from({ length: 2000 }, () =>
      JSON.stringify({ features: wideRefs, entities: [{ user_id: user() }] }),
    ).join('\n'),
  );
  const batchBodies = join(dir, 'batch.jsonl');
  const narrowRefs = narrowFeatures.map((f) => `narrow:${f}`);
  await writeFile(
    batchBodies,
    Array.from({ length: 2000 }, () =>
      JSON.stringify({
        features: narrowRefs,
        entities: Array.from({ length: BATCH }, () => ({ user_id: user() })),
      }),
    ).join('\n'),
  );

  const config = join(dir, 'serve.yaml');
  await writeFile(
    config,
    [
      'stores:',
      `  serving: "sqlite:${join(dir, 'serving.db')}"`,
      `  metadata: "sqlite:${join(dir, 'meta.db')}"`,
      `  artifacts: "${join(dir, 'artifacts')}"`,
      'features:',
      `  repo: "${dir}"`,
      `  online: "${values.redis}?prefix=${encodeURIComponent(prefix)}"`,
      '',
    ].join('\n'),
  );
  const kiban = await startServerProcess(
    ['src/cli/main.ts', 'serve', '--config', config, '--port', '0'],
    /kiban is serving on (http:\/\/\S+)/,
  );
  servers.push(kiban);
  const bare = await startServerProcess(
    ['bench/features-bare-server.ts'],
    /listening on (http:\/\/\S+)/,
  );
  servers.push(bare);

  // Every answer of the first body checked: kiban must answer present values, not 4xx.
  const first = await fetch(`${kiban.url}/v1/features/online`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ features: wideRefs.slice(0, 3), entities: [{ user_id: 'u0' }] }),
  });
  const answer = (await first.json()) as { results?: { statuses: string[] }[] };
  if (!first.ok || answer.results?.[0]?.statuses.some((s) => s !== 'present'))
    throw new Error(
      `kiban did not answer present values: ${first.status} ${JSON.stringify(answer)}`,
    );

  const generator = fixedRateGenerator(dir, values.generator as 'auto' | 'c' | 'node');
  // The batch answers exceed the C generator's receive buffer: the TypeScript one for them.
  const batchGenerator: FixedRateGenerator = { binary: null, name: 'bench/rate-load.ts' };
  const path = '/v1/features/online';

  const atRate = async (
    server: ServerProcess,
    gen: FixedRateGenerator,
    bodies: string,
    rate: number,
  ): Promise<FixedRateResult & { serverCpuMicrosecondsPerRequest: number }> =>
    measureAtRate(gen, server, path, bodies, rate, seconds);

  const low = lowRate > 0 ? await atRate(kiban, generator, singleBodies, lowRate) : null;
  if (low !== null) log(`single at ${lowRate}/s: ${JSON.stringify(low)}`);
  const lowBare = lowRate > 0 ? await atRate(bare, generator, singleBodies, lowRate) : null;
  if (lowBare !== null) log(`single bare at ${lowRate}/s: ${JSON.stringify(lowBare)}`);
  const single = await atRate(kiban, generator, singleBodies, singleRate);
  log(`single at ${singleRate}/s: ${JSON.stringify(single)}`);
  const singleBare = await atRate(bare, generator, singleBodies, singleRate);
  log(`single bare at ${singleRate}/s: ${JSON.stringify(singleBare)}`);
  const batch = await atRate(kiban, batchGenerator, batchBodies, batchRate);
  log(`batch at ${batchRate}/s: ${JSON.stringify(batch)}`);
  const batchBare = await atRate(bare, batchGenerator, batchBodies, batchRate);
  log(`batch bare at ${batchRate}/s: ${JSON.stringify(batchBare)}`);
  const singleFull = await runFullSpeed(kiban.url, path, singleBodies, seconds, connections);
  log(`single full speed: ${JSON.stringify(singleFull)}`);
  const singleBareFull = await runFullSpeed(bare.url, path, singleBodies, seconds, connections);
  log(`single bare full speed: ${JSON.stringify(singleBareFull)}`);

  const round = (x: number): number => Math.round(x * 1000) / 1000;
  const versus = (a: FixedRateResult, b: FixedRateResult) => ({
    p99DifferenceMs: round(a.latencyMs.p99 - b.latencyMs.p99),
    p99Ratio: round(a.latencyMs.p99 / b.latencyMs.p99),
  });
  const clean = (r: FixedRateResult): boolean => r.non2xx === 0 && r.errors === 0;
  process.stdout.write(
    `${JSON.stringify({
      server: 'kiban serve, Redis online store',
      entities,
      single: {
        shape: `1 entity x ${WIDE} features (one view)`,
        atRate: single,
        bareRouteAtRate: singleBare,
        versusBare: versus(single, singleBare),
        atLowRate: low,
        bareRouteAtLowRate: lowBare,
        versusBareAtLowRate: low !== null && lowBare !== null ? versus(low, lowBare) : null,
        fullSpeed: singleFull,
        bareRouteFullSpeed: singleBareFull,
        fixedRateGenerator: generator.name,
      },
      batch: {
        shape: `${BATCH} entities x ${NARROW} features (one view)`,
        atRate: batch,
        bareRouteAtRate: batchBare,
        versusBare: versus(batch, batchBare),
        fixedRateGenerator: batchGenerator.name,
      },
      goals: {
        singleP99Ms: 2,
        singleRequestsPerSecond: 2500,
        batchP99Ms: 15,
        singleP99Met: single.latencyMs.p99 <= 2 && clean(single),
        singleThroughputMet:
          singleFull.requestsPerSecond >= 2500 &&
          singleFull.non2xx === 0 &&
          singleFull.errors === 0,
        batchP99Met: batch.latencyMs.p99 <= 15 && clean(batch),
      },
      loadAverage1m: Math.round(loadavg()[0] * 10) / 10,
      machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
    })}\n`,
  );
} finally {
  for (const server of servers) await server.stop();
  const raw = new Redis(values.redis);
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await raw.unlink(...keys);
  } while (cursor !== '0');
  await raw.quit();
  await rm(dir, { recursive: true, force: true });
}
