/**
 * Decisions per second of the bandit policies and of `POST /v1/bandits/{name}/decide`, with 80
 * candidates and a 20-number context, each policy trained on 8,000 feedback first.
 *
 * 1. In process: `policy.select` per policy kind, for 1 and 3 slots, as decisions per second of
 *    wall time and per CPU-second of this process (the per-core figure, robust to a loaded
 *    machine); then `BanditService.decide` and `feedback` on the Redis bandit store (decision
 *    record round trip and log line included; feedback in concurrent bursts, to show the
 *    mini-batches).
 * 2. Over HTTP: `kiban serve` in a process of its own (Redis bandit store, decision log on; the
 *    bandit trained over HTTP with 2,000 decisions and their feedback), load from another
 *    process: at a fixed rate (default 1,000/s) from an open-loop generator (one schedule,
 *    latency to the microsecond: bench/peers/rate-load.c where a C compiler builds it, else
 *    bench/rate-load.ts) for latency, and at full speed from bench/serve-load.ts (autocannon, 32
 *    connections) for throughput; beside a bare fastify POST route in its own process
 *    (bench/bare-server.ts) that takes the same bodies and returns a constant decision, in
 *    the same run (the floor this machine's HTTP stack and load generator set); and the server's
 *    CPU time per request at the fixed rate, a figure a busy machine does not distort.
 *
 *   npx tsx bench/bandits.ts [--seconds 10] [--rate 1000] [--policies egreedy,ucb1,bts,linucb,lints] [--redis redis://127.0.0.1:6379] [--generator auto|c|node]
 *
 * Goals (issue 8): in process ≥ 20,000 decisions/s per core for LinUCB (80 arms, 20 features);
 * over HTTP p99 under 3 ms at 1,000 decisions/s. Last line: one JSON object with every figure and
 * the machine (cores, load average before and after).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  fixedRateGenerator,
  measureAtRate,
  runFullSpeed,
  type FullSpeedResult,
} from './http-load.js';
import { startServerProcess } from './server-process.js';
import {
  seededRandom,
  type BanditPolicy,
  type Feedback,
  type PolicyKind,
} from '../src/bandits/bandit-policy.js';
import { createPolicy, POLICY_KINDS } from '../src/bandits/create-policy.js';
import { DecisionLogWriter } from '../src/bandits/decision-log.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import { RedisBanditStore } from '../src/storage/redis-bandit-store.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    policies: { type: 'string', default: POLICY_KINDS.join(',') },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    json: { type: 'boolean', default: false },
    generator: { type: 'string', default: 'auto' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const kinds = values.policies.split(',') as PolicyKind[];
const ARMS = 80;
const DIM = 20;
const TRAINING = 8000;

const random = seededRandom(1);
const candidates = Array.from({ length: ARMS }, (_, k) => `item-${k}`);
const context = (): number[] =>
  Array.from({ length: DIM }, (_, j) => (j === 0 ? 1 : random() - 0.5));
/** Hidden click rates: a linear function of the context per arm, so the policies learn something. */
const weights = Array.from({ length: ARMS }, () =>
  Array.from({ length: DIM }, (_, j) => (j === 0 ? 0.05 + 0.2 * random() : 0.3 * (random() - 0.5))),
);
const clickRate = (arm: number, x: number[]): number =>
  Math.min(
    0.95,
    Math.max(
      0.01,
      x.reduce((s, v, j) => s + v * weights[arm][j], 0),
    ),
  );
const training = (): Feedback[] =>
  Array.from({ length: TRAINING }, (_, k) => {
    const x = context();
    const arm = k % ARMS;
    return {
      arm: candidates[arm],
      context: Float64Array.from(x),
      reward: random() < clickRate(arm, x) ? 1 : 0,
    };
  });

const loadBefore = loadavg();

// ───────────────────────────── 1. in process ─────────────────────────────

/** Decisions per wall second and per CPU-second of `select` over `ms` milliseconds. */
function measureSelect(
  policy: BanditPolicy,
  slots: number,
  ms: number,
): { perSecond: number; perCpuSecond: number; microseconds: number } {
  const xs = Array.from({ length: 256 }, () => Float64Array.from(context()));
  const r = seededRandom(2);
  for (let k = 0; k < 200; k++) policy.select({ context: xs[k & 255], candidates, slots }, r); // warm-up
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() - t0 < ms)
    for (let k = 0; k < 20; k++) policy.select({ context: xs[n++ & 255], candidates, slots }, r);
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    perSecond: Math.round(n / wall),
    perCpuSecond: Math.round(n / cpuSeconds),
    microseconds: +((cpuSeconds / n) * 1e6).toFixed(1),
  };
}

const select: Record<string, Record<string, ReturnType<typeof measureSelect>>> = {};
for (const kind of kinds) {
  const policy = createPolicy(kind, { dim: DIM });
  policy.update(training());
  select[kind] = {};
  for (const slots of [1, 3]) {
    select[kind][`slots${slots}`] = measureSelect(policy, slots, Math.min(3000, 300 * seconds));
    process.stderr.write(
      `in process ${kind} slots ${slots}: ${JSON.stringify(select[kind][`slots${slots}`])}\n`,
    );
  }
}

const prefix = `kiban-bench-bandits-${Date.now()}:`;
const store = new RedisBanditStore(values.redis, { prefix });
const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-bandits-'));
const log = await DecisionLogWriter.open(join(dir, 'decisions.jsonl'));
const service = new BanditService(store, { log, pollMs: 200 });
await service.define('bench', { policy: 'linucb', dim: DIM });

/** Feeds `TRAINING` decisions' worth of feedback through the service, in bursts of `burst` concurrent requests. */
async function feed(
  burst: number,
): Promise<{ feedback: number; perSecond: number; batches: number }> {
  const before = (await store.getBandit('bench'))?.version ?? 0;
  const t0 = performance.now();
  let sent = 0;
  while (sent < TRAINING / 4) {
    const decisions = await Promise.all(
      Array.from({ length: burst }, () =>
        service.decide('bench', { context: context(), candidates, slots: 1 }),
      ),
    );
    await Promise.all(
      decisions.map((d) =>
        service.feedback('bench', {
          decisionId: d.decisionId,
          rewards: [random() < clickRate(Number(d.arms[0].slice(5)), context()) ? 1 : 0],
        }),
      ),
    );
    sent += burst;
  }
  const secondsTaken = (performance.now() - t0) / 1000;
  const after = (await store.getBandit('bench'))?.version ?? 0;
  return { feedback: sent, perSecond: Math.round(sent / secondsTaken), batches: after - before };
}
const feedback = await feed(64);
process.stderr.write(
  `in process feedback (decide + feedback, bursts of 64, Redis): ${JSON.stringify(feedback)}\n`,
);

/** `service.decide` with `concurrency` requests in flight, for `ms` milliseconds. */
async function measureService(
  concurrency: number,
  ms: number,
): Promise<{ perSecond: number; perCpuSecond: number }> {
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - t0 < ms) {
        await service.decide('bench', { context: context(), candidates, slots: 1 });
        n++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return {
    perSecond: Math.round(n / wall),
    perCpuSecond: Math.round(n / ((cpu.user + cpu.system) / 1e6)),
  };
}
const serviceDecide = await measureService(32, Math.min(3000, 300 * seconds));
process.stderr.write(
  `in process BanditService.decide (LinUCB, Redis record + log, 32 in flight): ${JSON.stringify(serviceDecide)}\n`,
);

// ───────────────────────────── 2. over HTTP ─────────────────────────────

// `kiban serve` on the Redis bandit store with its decision log, and the bare route, each in a process of its own.
const config = join(dir, 'serve.yaml');
await writeFile(
  config,
  `stores:\n  serving: "${values.redis}?prefix=${prefix}http:"\n  metadata: "sqlite:${join(dir, 'meta.db')}"\n`,
);
const kibanServer = await startServerProcess(
  [
    'src/cli/main.ts',
    'serve',
    '--config',
    config,
    '--port',
    '0',
    '--bandit-log',
    join(dir, 'http-log'),
  ],
  /kiban is serving on (http:\/\/\S+)/,
);
const bareServer = await startServerProcess(
  ['bench/bare-server.ts'],
  /listening on (http:\/\/\S+)/,
);
const post = async (path: string, body: unknown, method = 'POST'): Promise<any> => {
  const response = await fetch(kibanServer.url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
};
await post('/v1/bandits/bench', { policy: 'linucb', dim: DIM }, 'PUT');
// Trained over HTTP like the in-process bandit: decisions with feedback, in bursts.
for (let sent = 0; sent < TRAINING / 4; sent += 64) {
  const made = await Promise.all(
    Array.from({ length: 64 }, () =>
      post('/v1/bandits/bench/decide', { context: context(), candidates, slots: 1 }),
    ),
  );
  await Promise.all(
    made.map((d) =>
      post('/v1/bandits/bench/feedback', {
        decisionId: d.decisionId,
        rewards: [random() < clickRate(Number(d.arms[0].slice(5)), context()) ? 1 : 0],
      }),
    ),
  );
}
const bodies = join(dir, 'decide.jsonl');
await writeFile(
  bodies,
  Array.from({ length: 2000 }, () =>
    JSON.stringify({ context: context(), candidates, slots: 1 }),
  ).join('\n'),
);

const generator = fixedRateGenerator(dir, values.generator as 'auto' | 'c' | 'node');

const http: Record<
  string,
  { atRate: Awaited<ReturnType<typeof measureAtRate>>; fullSpeed: FullSpeedResult }
> = {};
for (const [name, server] of [
  ['bare', bareServer],
  ['kiban', kibanServer],
] as const) {
  const atRate = await measureAtRate(
    generator,
    server,
    '/v1/bandits/bench/decide',
    bodies,
    rate,
    seconds,
  );
  process.stderr.write(`HTTP ${name} decide at ${rate}/s: ${JSON.stringify(atRate)}\n`);
  const fullSpeed = await runFullSpeed(server.url, '/v1/bandits/bench/decide', bodies, seconds, 32);
  process.stderr.write(`HTTP ${name} decide at full speed: ${JSON.stringify(fullSpeed)}\n`);
  http[name] = { atRate, fullSpeed };
}

await bareServer.stop();
await kibanServer.stop();
await log.close();
await store.close();
await rm(dir, { recursive: true, force: true });
{
  // Remove what the benchmark wrote to Redis.
  const { Redis } = await import('ioredis');
  const raw = new Redis(values.redis);
  const keys = await raw.keys(`${prefix}*`);
  // In chunks: a spread of every decision record's key overflows the call stack.
  for (let k = 0; k < keys.length; k += 1000) await raw.unlink(...keys.slice(k, k + 1000));
  raw.disconnect();
}

// (Off-policy evaluation timings: bench/bandits-ope.ts.)

const result = {
  bench: 'bandits',
  arms: ARMS,
  dim: DIM,
  inProcess: { select, service: { decide: serviceDecide, feedback } },
  http: {
    policy: 'linucb',
    store: 'redis',
    server: 'kiban serve',
    fixedRateGenerator: generator.name,
    ...http,
  },
  goals: {
    linucbPerCore: { goal: 20000, measured: select.linucb?.slots1.perCpuSecond ?? null },
    httpP99Ms: {
      goal: 3,
      measured: http.kiban.atRate.latencyMs.p99,
      bareRouteSameRun: http.bare.atRate.latencyMs.p99,
    },
    httpServerCpuShareAtRate: +(
      (http.kiban.atRate.serverCpuMicrosecondsPerRequest * rate) /
      1e6
    ).toFixed(3),
  },
  machine: {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
  },
};
console.log(JSON.stringify(result));
