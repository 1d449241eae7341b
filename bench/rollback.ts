/**
 * Rollback under load (issue 22): two `kiban serve`-like processes (createServingApp over one
 * Redis serving store, app.listen) holding two published versions, v1 and v2 (v2 current), take
 * an open-loop 1,000 req/s of `GET /v1/users/{id}/recommendations` for 10 s, alternating between
 * them; 5 s in, `POST /v1/models/rollback {version: v1}` goes to the first. Every answer names
 * its version through its items (v1's lists hold `v1-…` ids, v2's `v2-…`). Before that, the same
 * rate for 5 s against a bare fastify route in the same processes gives the reference latency.
 *
 * The generator is written here in Node: a fixed schedule of send times (request i is due at
 * start + i ms), each request's scheduled time, send lateness, status and answering version
 * recorded; latency counted from the scheduled time (open loop: a stalled server cannot hide
 * its queue) and, for reference, from the actual send.
 *
 * Prints progress on stderr and, last, one JSON line: failed requests, the time from the
 * rollback call to the last answer from the old version (any process) and to the sending of the
 * last request the old version answered, old answers to requests sent after the rollback call
 * was answered, p50/p99 latency, the generator's lateness (p99) and
 * the machine's load average.
 *
 *   npx tsx bench/rollback.ts [--rate 1000] [--seconds 10] [--servers 2]
 *   (Redis at KIBAN_BENCH_REDIS_URL, default redis://127.0.0.1:6379)
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startServerProcess, type ServerProcess } from './server-process.js';

const REDIS_URL = process.env.KIBAN_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const USERS = 1000;
const ITEMS = 20;

const { values: args } = parseArgs({
  options: {
    server: { type: 'string' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    servers: { type: 'string', default: '2' },
  },
});

/** Child mode: a kiban app over the Redis store with prefix `prefix`, and a bare fastify. */
async function serve(prefix: string): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const { createServingApp } = await import('../src/serving/create-app.js');
  const { RedisServingStore } = await import('../src/storage/redis-serving-store.js');
  const store = new RedisServingStore(REDIS_URL, { prefix });
  const app = createServingApp({ serving: store, webRoot: false, logRequests: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const bare = Fastify();
  const constant = {
    user: 'u',
    items: [{ id: 'bare', score: 1, source: 'personal' }],
    fallback: false,
  };
  bare.get('/v1/users/:userId/recommendations', async () => constant);
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const port = (s: { address(): unknown }): number => (s.address() as { port: number }).port;
  process.on('SIGTERM', () => {
    void Promise.all([app.close(), bare.close()]).then(async () => {
      await store.close();
      process.exit(0);
    });
  });
  process.stdout.write(
    `listening on http://127.0.0.1:${port(app.server)}|http://127.0.0.1:${port(bare.server)}\n`,
  );
}

/** One request of the schedule. */
interface Sample {
  /** When it was due, ms on the performance clock. */
  scheduled: number;
  sent: number;
  done: number;
  /** HTTP status, or 0 for a transport error. */
  status: number;
  /** The version its items came from (`v1`, `v2`, `bare`), or null. */
  version: string | null;
  server: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function post(url: string, json: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(json);
    const req = request(
      url,
      {
        agent,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The version an answer came from: the prefix of its first item's id. */
function versionOf(body: string): string | null {
  try {
    const id = (JSON.parse(body) as { items: { id: string }[] }).items[0]?.id;
    return typeof id === 'string' ? (id.split('-')[0] ?? null) : null;
  } catch {
    return null;
  }
}

/**
 * Sends `rate` requests a second for `seconds`, request i due at start + i / rate s whatever
 * happened to the others (open loop), to `bases[i % bases.length]`; `at` runs once, `atMs` into
 * the schedule, beside the load.
 */
async function openLoop(
  bases: readonly string[],
  rate: number,
  seconds: number,
  at?: { atMs: number; run: () => Promise<void> },
): Promise<{ samples: Sample[]; start: number; side: Promise<void> | null }> {
  const total = Math.round(rate * seconds);
  const period = 1000 / rate;
  const samples: Sample[] = new Array(total);
  const pending: Promise<void>[] = [];
  const start = performance.now() + 20;
  let side: Promise<void> | null = null;
  let next = 0;
  const fire = (i: number): void => {
    const server = i % bases.length;
    const scheduled = start + i * period;
    const sent = performance.now();
    pending.push(
      get(`${bases[server]}/v1/users/${i % USERS}/recommendations?k=10`).then(
        ({ status, body }) => {
          samples[i] = {
            scheduled,
            sent,
            done: performance.now(),
            status,
            version: status === 200 ? versionOf(body) : null,
            server,
          };
        },
      ),
    );
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (at !== undefined && side === null && now >= start + at.atMs) side = at.run();
      while (next < total && start + next * period <= now) fire(next++);
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, start + next * period - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  return { samples, start, side };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (x: number): number => Math.round(x * 100) / 100;

function summary(samples: readonly Sample[]) {
  const fromScheduled = samples.map((s) => s.done - s.scheduled).sort((a, b) => a - b);
  const fromSent = samples.map((s) => s.done - s.sent).sort((a, b) => a - b);
  const late = samples.map((s) => s.sent - s.scheduled).sort((a, b) => a - b);
  return {
    requests: samples.length,
    failed: samples.filter((s) => s.status !== 200).length,
    latencyMs: {
      p50: round(percentile(fromScheduled, 50)),
      p99: round(percentile(fromScheduled, 99)),
      max: round(fromScheduled[fromScheduled.length - 1] ?? Number.NaN),
    },
    latencyFromSendMs: {
      p50: round(percentile(fromSent, 50)),
      p99: round(percentile(fromSent, 99)),
    },
    generatorLateMs: {
      p99: round(percentile(late, 99)),
      max: round(late[late.length - 1] ?? Number.NaN),
    },
  };
}

async function main(): Promise<void> {
  const rate = Number(args.rate);
  const seconds = Number(args.seconds);
  const serverCount = Number(args.servers);
  const prefix = `kiban-bench-rollback:${randomUUID()}:`;
  const { RedisServingStore } = await import('../src/storage/redis-serving-store.js');
  const store = new RedisServingStore(REDIS_URL, { prefix });
  const servers: ServerProcess[] = [];
  try {
    for (const version of ['v1', 'v2']) {
      const writer = await store.beginVersion(version, {
        modelId: `bench-${version}`,
        kind: 'als',
      });
      const lists = function* (): Generator<[string, { id: string; score: number }[]]> {
        for (let u = 0; u < USERS; u++)
          yield [
            String(u),
            Array.from({ length: ITEMS }, (_, r) => ({
              id: `${version}-${(u + r) % 5000}`,
              score: ITEMS - r,
            })),
          ];
      };
      await writer.putLists('user', lists());
      await writer.putLists('popular', [
        [
          'all',
          Array.from({ length: ITEMS }, (_, r) => ({ id: `${version}-p${r}`, score: ITEMS - r })),
        ],
      ]);
      await writer.commit();
    }
    process.stderr.write(`published v1, v2 under ${prefix} (v2 current)\n`);
    for (let s = 0; s < serverCount; s++)
      servers.push(
        await startServerProcess(['bench/rollback.ts', '--server', prefix], /listening on (\S+)/),
      );
    const kiban = servers.map((s) => s.url.split('|')[0]!);
    const bare = servers.map((s) => s.url.split('|')[1]!);
    process.stderr.write(`${serverCount} servers: ${kiban.join(', ')}\n`);

    // Warm-up: JIT, connections, Redis scripts loaded.
    await openLoop(kiban, rate, 1);
    await openLoop(bare, rate, 1);
    const loadBefore = loadavg().map(round);

    process.stderr.write(`bare fastify: ${rate} req/s for ${seconds / 2} s\n`);
    const bareRun = await openLoop(bare, rate, seconds / 2);

    process.stderr.write(
      `kiban: ${rate} req/s for ${seconds} s, rollback to v1 at ${seconds / 2} s\n`,
    );
    const rollback = { start: 0, answered: 0, status: 0, body: '' };
    const run = await openLoop(kiban, rate, seconds, {
      atMs: (seconds / 2) * 1000,
      run: async () => {
        rollback.start = performance.now();
        const answer = await post(`${kiban[0]}/v1/models/rollback`, { version: 'v1' });
        rollback.answered = performance.now();
        rollback.status = answer.status;
        rollback.body = answer.body;
      },
    });
    await run.side;
    const loadAfter = loadavg().map(round);

    const samples = run.samples;
    const old = samples.filter((s) => s.version === 'v2');
    const lastOld = Math.max(...old.map((s) => s.done));
    const lastOldPerServer = kiban.map((_, server) => {
      const mine = old.filter((s) => s.server === server);
      return mine.length === 0
        ? null
        : round(Math.max(...mine.map((s) => s.done)) - rollback.start);
    });
    const oldSentAfterAnswer = old.filter((s) => s.sent > rollback.answered).length;
    const unknown = samples.filter(
      (s) => s.status === 200 && s.version !== 'v1' && s.version !== 'v2',
    ).length;
    const result = {
      bench: 'rollback',
      rate,
      seconds,
      servers: serverCount,
      store: 'redis',
      rollback: {
        status: rollback.status,
        answer: JSON.parse(rollback.body) as unknown,
        callMs: round(rollback.answered - rollback.start),
        atMs: round(rollback.start - run.start),
        lastOldAnswerAfterCallMs: round(lastOld - rollback.start),
        // When the last request the old version answered was sent: the switch as the schedule
        // sees it, without the time requests already sent spent queued in a busy server.
        lastOldRequestSentAfterCallMs: round(Math.max(...old.map((s) => s.sent)) - rollback.start),
        firstNewRequestSentAfterCallMs: round(
          Math.min(
            ...samples
              .filter((s) => s.version === 'v1' && s.sent > rollback.start - 60_000)
              .map((s) => s.sent),
          ) - rollback.start,
        ),
        lastOldAnswerAfterCallMsPerServer: lastOldPerServer,
        oldAnswersToRequestsSentAfterTheCallReturned: oldSentAfterAnswer,
        answers: { v2: old.length, v1: samples.filter((s) => s.version === 'v1').length, unknown },
      },
      kiban: summary(samples),
      bare: summary(bareRun.samples),
      loadAverage: { before: loadBefore, after: loadAfter },
      cpus: (await import('node:os')).cpus().length,
      node: process.version,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const s of servers) await s.stop();
    await store.clear();
    await store.close();
    agent.destroy();
  }
}

if (args.server !== undefined) await serve(args.server);
else await main();
