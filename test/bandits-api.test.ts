import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DecisionLogWriter,
  joinDecisionLogs,
  readDecisionLogLines,
  type DecisionLogEntry,
  type DecisionLogLine,
} from '../src/bandits/decision-log.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import type { BanditStore } from '../src/storage/bandit-store.js';
import { MemoryBanditStore } from '../src/storage/memory-bandit-store.js';
import { RedisBanditStore } from '../src/storage/redis-bandit-store.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from './fixtures/redis-available.js';
import { call } from './fixtures/http-json.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-bandits-api-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function logLines(paths: string[]): Promise<DecisionLogLine[]> {
  const out: DecisionLogLine[] = [];
  for await (const line of readDecisionLogLines(paths)) out.push(line);
  return out;
}

const reachable = await redisAnswers(TEST_REDIS_URL);
const runRedis = mustRunRedis(reachable);

async function clearPrefix(prefix: string): Promise<void> {
  const raw = new Redis(TEST_REDIS_URL);
  const keys = await raw.keys(`${prefix}*`);
  if (keys.length > 0) await raw.unlink(...keys);
  raw.disconnect();
}

const STORES: [string, (prefix: string) => BanditStore][] = [
  ['memory', () => new MemoryBanditStore()],
];
if (runRedis) STORES.push(['Redis', (prefix) => new RedisBanditStore(TEST_REDIS_URL, { prefix })]);

describe.each(STORES)('bandit API over HTTP (one process, %s store)', (label, openStore) => {
  const prefix = `kiban-test-bandits-api-${randomUUID()}:`;
  let app: FastifyInstance;
  let base: string;
  let store: BanditStore;
  let log: DecisionLogWriter;
  const logPath = join(tmpdir(), `kiban-bandits-api-${label}-${randomUUID()}.jsonl`);

  beforeAll(async () => {
    store = openStore(prefix);
    log = await DecisionLogWriter.open(logPath);
    const bandits = new BanditService(store, { log, pollMs: 20 });
    app = createServingApp({ serving: new MemoryServingStore(), webRoot: false, bandits });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await log?.close();
    await store?.close();
    await rm(logPath, { force: true });
    if (label === 'Redis') await clearPrefix(prefix);
  });

  it('defines bandits idempotently and refuses clashing or malformed definitions', async () => {
    const created = await call(base, 'PUT', '/v1/bandits/home', {
      policy: 'linucb',
      dim: 3,
      params: { alpha: 0.5 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'home',
      created: true,
      definition: { policy: 'linucb', dim: 3, params: { alpha: 0.5, lambda: 1 } },
    });
    expect(
      (
        await call(base, 'PUT', '/v1/bandits/home', {
          policy: 'linucb',
          dim: 3,
          params: { alpha: 0.5 },
        })
      ).status,
    ).toBe(200);
    const clash = await call(base, 'PUT', '/v1/bandits/home', { policy: 'linucb', dim: 4 });
    expect(clash.status).toBe(409);
    expect(clash.body.message).toMatch(/exists with another definition/);
    expect((await call(base, 'PUT', '/v1/bandits/x', { policy: 'nope' })).status).toBe(400);
    const noDim = await call(base, 'PUT', '/v1/bandits/x', { policy: 'lints' });
    expect(noDim.status).toBe(400);
    expect(noDim.body.message).toMatch(/dim/);
    const badParam = await call(base, 'PUT', '/v1/bandits/x', {
      policy: 'ucb1',
      params: { beta: 1 },
    });
    expect(badParam.status).toBe(400);
    expect(badParam.body.message).toMatch(/params.beta/);
    expect((await call(base, 'PUT', '/v1/bandits/bad%20name', { policy: 'ucb1' })).status).toBe(
      400,
    );
    expect((await call(base, 'GET', '/v1/bandits')).body.bandits).toContain('home');
  });

  it('lists decide and feedback in the OpenAPI document', async () => {
    const paths = (await call(base, 'GET', '/openapi.json')).body.paths;
    expect(
      paths['/v1/bandits/{name}/decide'].post.requestBody.content['application/json'].schema
        .required,
    ).toEqual(['candidates']);
    expect(
      paths['/v1/bandits/{name}/feedback'].post.parameters.map((p: { name: string }) => p.name),
    ).toEqual(['name']);
  });

  it('decides, takes feedback once, and learns', async () => {
    const candidates = ['a', 'b', 'c', 'd'];
    const context = [1, 0.2, -0.1];
    let decided = await call(base, 'POST', '/v1/bandits/home/decide', {
      context,
      candidates,
      slots: 2,
    });
    expect(decided.status).toBe(200);
    expect(decided.body.arms).toHaveLength(2);
    expect(decided.body.propensities).toHaveLength(2);
    expect(decided.body.decisionId).toMatch(/^[0-9a-f-]{36}$/);
    // Reward whichever arm is "c" (by arm id), others 0, for many rounds.
    for (let round = 0; round < 40; round++) {
      decided = await call(base, 'POST', '/v1/bandits/home/decide', {
        context,
        candidates,
        slots: 2,
      });
      const rewards = Object.fromEntries(
        decided.body.arms.map((arm: string) => [arm, arm === 'c' ? 1 : 0]),
      );
      const fed = await call(base, 'POST', '/v1/bandits/home/feedback', {
        decisionId: decided.body.decisionId,
        rewards,
      });
      expect(fed.status).toBe(200);
      expect(fed.body.arms).toEqual(decided.body.arms);
      expect(fed.body.version).toBeGreaterThan(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // a poll or two
    const after = await call(base, 'POST', '/v1/bandits/home/decide', {
      context,
      candidates,
      slots: 1,
    });
    expect(after.body.arms).toEqual(['c']);
    expect(after.body.version).toBe(40);
    const summary = await call(base, 'GET', '/v1/bandits/home');
    expect(summary.status).toBe(200);
    expect(summary.body.version).toBe(40);
    expect(summary.body.arms.reduce((s: number, a: { n: number }) => s + a.n, 0)).toBe(80);
    expect(summary.body.arms.find((a: { arm: string }) => a.arm === 'c').mean).toBe(1);
  });

  it('answers 409 to repeated feedback and does not count it', async () => {
    const decided = await call(base, 'POST', '/v1/bandits/home/decide', {
      context: [1, 0, 0],
      candidates: ['a', 'b'],
      slots: 1,
    });
    const before = (await call(base, 'GET', '/v1/bandits/home')).body;
    const [first, second] = await Promise.all([
      call(base, 'POST', '/v1/bandits/home/feedback', {
        decisionId: decided.body.decisionId,
        rewards: [1],
      }),
      call(base, 'POST', '/v1/bandits/home/feedback', {
        decisionId: decided.body.decisionId,
        rewards: [1],
      }),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    expect([first, second].find((r) => r.status === 409)?.body.message).toMatch(
      /feedback was given already/,
    );
    const third = await call(base, 'POST', '/v1/bandits/home/feedback', {
      decisionId: decided.body.decisionId,
      rewards: [0],
    });
    expect(third.status).toBe(409);
    const after = (await call(base, 'GET', '/v1/bandits/home')).body;
    expect(after.version).toBe(before.version + 1);
    const count = (s: { arms: { n: number }[] }): number => s.arms.reduce((t, a) => t + a.n, 0);
    expect(count(after)).toBe(count(before) + 1);
  });

  it('answers 4xx for unknown bandits and decisions and malformed input, naming the field', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      [
        'POST',
        '/v1/bandits/nope/decide',
        { context: [1, 2, 3], candidates: ['a'] },
        404,
        /bandit "nope" not found/,
      ],
      [
        'POST',
        '/v1/bandits/nope/feedback',
        { decisionId: 'x', rewards: [1] },
        404,
        /bandit "nope" not found/,
      ],
      ['GET', '/v1/bandits/nope', undefined, 404, /bandit "nope"/],
      ['DELETE', '/v1/bandits/nope', undefined, 404, /bandit "nope"/],
      [
        'POST',
        '/v1/bandits/home/feedback',
        { decisionId: randomUUID(), rewards: [1] },
        404,
        /decision ".*" of bandit "home" \(never made, or older than its TTL\) not found/,
      ],
      [
        'POST',
        '/v1/bandits/home/feedback',
        { decisionId: 'bad id!', rewards: [1] },
        400,
        /decisionId/,
      ],
      [
        'POST',
        '/v1/bandits/home/decide',
        { context: [1, 2], candidates: ['a'] },
        400,
        /context: must have 3 numbers/,
      ],
      ['POST', '/v1/bandits/home/decide', { candidates: ['a'] }, 400, /context/],
      [
        'POST',
        '/v1/bandits/home/decide',
        { context: [1, 'x', 3], candidates: ['a'] },
        400,
        /context\/1/,
      ],
      ['POST', '/v1/bandits/home/decide', { context: [1, 2, 3] }, 400, /candidates/],
      [
        'POST',
        '/v1/bandits/home/decide',
        { context: [1, 2, 3], candidates: ['a', 'a'] },
        400,
        /candidates: "a" appears more than once/,
      ],
      [
        'POST',
        '/v1/bandits/home/decide',
        { context: [1, 2, 3], candidates: ['a', 'b'], slots: 3 },
        400,
        /slots/,
      ],
      [
        'POST',
        '/v1/bandits/home/decide',
        { context: [1, 2, 3], candidates: ['a'], extra: 1 },
        400,
        /extra/,
      ],
      ['POST', '/v1/bandits/home/feedback', { decisionId: 'x' }, 400, /rewards/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const response = await call(base, method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(response.body.message, `${method} ${path}`).toMatch(message);
    }
    const malformed = await fetch(`${base}/v1/bandits/home/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"context": [1,',
    });
    expect(malformed.status).toBe(400);
  });

  it('refuses rewards that do not fit the decision, leaving it open for a corrected request', async () => {
    const decided = await call(base, 'POST', '/v1/bandits/home/decide', {
      context: [1, 0, 0],
      candidates: ['a', 'b', 'c'],
      slots: 2,
    });
    const id = decided.body.decisionId;
    const wrongLength = await call(base, 'POST', '/v1/bandits/home/feedback', {
      decisionId: id,
      rewards: [1],
    });
    expect(wrongLength.status).toBe(400);
    expect(wrongLength.body.message).toMatch(/rewards: must have 2 numbers/);
    const notChosen = ['a', 'b', 'c'].find((arm) => !decided.body.arms.includes(arm)) as string;
    const wrongArm = await call(base, 'POST', '/v1/bandits/home/feedback', {
      decisionId: id,
      rewards: { [notChosen]: 1 },
    });
    expect(wrongArm.status).toBe(400);
    expect(wrongArm.body.message).toMatch(
      new RegExp(`rewards.${notChosen}: is not an arm of this decision`),
    );
    const ok = await call(base, 'POST', '/v1/bandits/home/feedback', {
      decisionId: id,
      rewards: { [decided.body.arms[1]]: 1 },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.rewards).toEqual([0, 1]);
  });

  it('checks rewards against the policy (Bernoulli rewards in [0, 1])', async () => {
    expect((await call(base, 'PUT', '/v1/bandits/clicks', { policy: 'bts' })).status).toBe(201);
    const decided = await call(base, 'POST', '/v1/bandits/clicks/decide', {
      candidates: ['a', 'b', 'c'],
      slots: 3,
    });
    expect(decided.status).toBe(200);
    expect(decided.body.propensities[2]).toBe(1);
    const bad = await call(base, 'POST', '/v1/bandits/clicks/feedback', {
      decisionId: decided.body.decisionId,
      rewards: [1, 2, 0],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/rewards\[1\]: must be in \[0, 1\]/);
    expect(
      (
        await call(base, 'POST', '/v1/bandits/clicks/feedback', {
          decisionId: decided.body.decisionId,
          rewards: [1, 0, 0],
        })
      ).status,
    ).toBe(200);
  });

  it('logs every decision and feedback, and joins them for off-policy evaluation', async () => {
    const decided = await call(base, 'POST', '/v1/bandits/home/decide', {
      context: [1, 0.5, 0.5],
      candidates: ['a', 'b', 'c'],
      slots: 2,
    });
    await call(base, 'POST', '/v1/bandits/home/feedback', {
      decisionId: decided.body.decisionId,
      rewards: [0, 1],
    });
    const path = logPath;
    await log.flush(); // lines wait up to 50 ms in memory

    const lines = await logLines([path]);
    const decision = lines.find(
      (l) => l.type === 'decision' && l.decisionId === decided.body.decisionId,
    );
    expect(decision).toMatchObject({
      bandit: 'home',
      policy: 'linucb',
      context: [1, 0.5, 0.5],
      candidates: ['a', 'b', 'c'],
      arms: decided.body.arms,
      positions: [0, 1],
      propensities: decided.body.propensities,
      version: decided.body.version,
    });
    expect(
      lines.find((l) => l.type === 'feedback' && l.decisionId === decided.body.decisionId),
    ).toMatchObject({ arms: decided.body.arms, rewards: [0, 1] });
    const joined = `${logPath}.joined`;
    const summary = await joinDecisionLogs([path], joined);
    expect(summary.decisions).toBe(lines.filter((l) => l.type === 'decision').length);
    const joinedLine = (await readFile(joined, 'utf8'))
      .split('\n')
      .find((l) => l.includes(decided.body.decisionId));
    expect(JSON.parse(joinedLine as string).rewards).toEqual([0, 1]);
    await rm(joined, { force: true });
  });

  it('logs the marginal probability of each slot of a multi-slot decision (Thompson sampling estimated)', async () => {
    // Uniform choice (ε = 1) of 3 of 4: conditional propensities 1/4, 1/3, 1/2; marginals 1/4 each.
    expect(
      (
        await call(base, 'PUT', '/v1/bandits/uniform', {
          policy: 'egreedy',
          params: { epsilon: 1 },
        })
      ).status,
    ).toBe(201);
    // 20,000 draws, so that the estimate is well inside the 0.05 checked below: with the default
    // 100 the check failed in 5.5% of 4,000 simulated decisions (none of 200 with 20,000).
    expect(
      (
        await call(base, 'PUT', '/v1/bandits/thompson', {
          policy: 'bts',
          params: { draws: 20_000 },
        })
      ).status,
    ).toBe(201);
    const candidates = ['a', 'b', 'c', 'd'];
    const uniform = await call(base, 'POST', '/v1/bandits/uniform/decide', {
      candidates,
      slots: 3,
    });
    const single = await call(base, 'POST', '/v1/bandits/uniform/decide', { candidates, slots: 1 });
    const thompson = await call(base, 'POST', '/v1/bandits/thompson/decide', {
      candidates,
      slots: 2,
    });
    expect(uniform.body.propensities.map((p: number) => +p.toFixed(6))).toEqual([
      0.25, 0.333333, 0.5,
    ]);
    await log.flush();
    const lines = await logLines([logPath]);
    const logged = (id: string) =>
      lines.find((l) => l.type === 'decision' && l.decisionId === id) as DecisionLogEntry;
    expect(logged(uniform.body.decisionId).marginals?.map((p) => +p.toFixed(6))).toEqual([
      0.25, 0.25, 0.25,
    ]);
    expect(logged(single.body.decisionId).marginals).toBeUndefined();
    // No feedback yet: each of the 4 arms is equally likely at each slot (a Monte Carlo estimate).
    for (const p of logged(thompson.body.decisionId).marginals ?? [])
      expect(p).toBeCloseTo(0.25, 1);
    expect(logged(thompson.body.decisionId).marginals).toHaveLength(2);
  });

  it('deletes a bandit; its old decisions take no feedback, even after it is re-created', async () => {
    expect((await call(base, 'PUT', '/v1/bandits/temp', { policy: 'egreedy' })).status).toBe(201);
    const decided = await call(base, 'POST', '/v1/bandits/temp/decide', { candidates: ['a', 'b'] });
    expect((await call(base, 'DELETE', '/v1/bandits/temp')).status).toBe(204);
    expect(
      (await call(base, 'POST', '/v1/bandits/temp/decide', { candidates: ['a', 'b'] })).status,
    ).toBe(404);
    expect((await call(base, 'PUT', '/v1/bandits/temp', { policy: 'egreedy' })).status).toBe(201);
    const stale = await call(base, 'POST', '/v1/bandits/temp/feedback', {
      decisionId: decided.body.decisionId,
      rewards: [1],
    });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toMatch(/earlier definition/);
    expect((await call(base, 'GET', '/v1/bandits/temp')).body.arms).toEqual([]);
  });
});

/** A `kiban serve` process on a free port. */
interface Server {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(config: string, logDir: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--config',
      config,
      '--port',
      '0',
      '--bandit-log',
      logDir,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /kiban is serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`kiban serve exited with ${code}: ${stderr}`)));
  });
  return {
    base,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe.runIf(runRedis)('bandit API across two server processes sharing Redis', () => {
  const prefix = `kiban-test-bandits-2p-${randomUUID()}:`;
  let servers: Server[] = [];
  let logDir: string;

  beforeAll(async () => {
    logDir = join(dir, 'two');
    const config = join(dir, 'two.yaml');
    await writeFile(
      config,
      `stores:\n  serving: "${TEST_REDIS_URL}?prefix=${prefix}"\n  metadata: "sqlite:${join(dir, 'meta.db')}"\n`,
    );
    servers = await Promise.all([startServer(config, logDir), startServer(config, logDir)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await clearPrefix(prefix);
  });

  it('serves one bandit from both, counting concurrent feedback to either exactly once', async () => {
    const [a, b] = servers.map((s) => s.base);
    expect((await call(a, 'PUT', '/v1/bandits/feed', { policy: 'lints', dim: 4 })).status).toBe(
      201,
    );
    // The other process sees the definition in the shared store.
    expect((await call(b, 'PUT', '/v1/bandits/feed', { policy: 'lints', dim: 4 })).status).toBe(
      200,
    );
    const candidates = Array.from({ length: 12 }, (_, k) => `item${k}`);
    const decisions = 120;
    const made = await Promise.all(
      Array.from({ length: decisions }, (_, k) =>
        call(k % 2 === 0 ? a : b, 'POST', '/v1/bandits/feed/decide', {
          context: [1, k % 3, 0.5, -1],
          candidates,
          slots: 3,
        }),
      ),
    );
    for (const d of made) expect(d.status).toBe(200);
    // Feedback for each decision goes to both processes at once: exactly one of the two counts it.
    const rewardsOf = (k: number): number[] => [k % 2, 0, k % 5 === 0 ? 1 : 0];
    const answers = await Promise.all(
      made.flatMap((d, k) =>
        [a, b].map((base) =>
          call(base, 'POST', '/v1/bandits/feed/feedback', {
            decisionId: d.body.decisionId,
            rewards: rewardsOf(k),
          }),
        ),
      ),
    );
    for (let k = 0; k < decisions; k++)
      expect([answers[2 * k].status, answers[2 * k + 1].status].sort()).toEqual([200, 409]);
    const summary = (await call(b, 'GET', '/v1/bandits/feed')).body;
    expect(summary.arms.reduce((t: number, arm: { n: number }) => t + arm.n, 0)).toBe(
      decisions * 3,
    );
    const expectedReward = Array.from({ length: decisions }, (_, k) =>
      rewardsOf(k).reduce((s, r) => s + r, 0),
    ).reduce((s, r) => s + r, 0);
    expect(
      summary.arms.reduce((t: number, arm: { rewardSum: number }) => t + arm.rewardSum, 0),
    ).toBe(expectedReward);
    // Per arm, the store counts exactly the times it was shown.
    const shown = new Map<string, number>();
    for (const d of made)
      for (const arm of d.body.arms as string[]) shown.set(arm, (shown.get(arm) ?? 0) + 1);
    for (const arm of summary.arms) expect(arm.n).toBe(shown.get(arm.arm));
    // Mini-batches: fewer store versions than feedback requests when they arrive together.
    expect(summary.version).toBeLessThanOrEqual(decisions);
    // Both processes pick the new statistics up within a poll or two.
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (const base of [a, b]) {
      const d = await call(base, 'POST', '/v1/bandits/feed/decide', {
        context: [1, 0, 0, 0],
        candidates,
        slots: 1,
      });
      expect(d.body.version).toBe(summary.version);
    }
  });

  it('has each process log its own decisions and the feedback it took', async () => {
    await Promise.all(servers.map((s) => s.stop()));
    servers = [];
    const files = (await readdir(logDir))
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => join(logDir, f));
    expect(files).toHaveLength(2);
    const lines = await logLines(files);
    const decisions = lines.filter((l) => l.type === 'decision');
    expect(decisions.length).toBe(122);
    for (const file of files)
      expect((await logLines([file])).some((l) => l.type === 'decision')).toBe(true);
    const summary = await joinDecisionLogs(files, join(dir, 'two-joined.jsonl'));
    expect(summary).toEqual({ decisions: 122, withFeedback: 120, orphanFeedback: 0 });
  });
});

describe.runIf(runRedis)('bandit feedback when a server process dies', () => {
  const prefix = `kiban-test-bandits-crash-${randomUUID()}:`;
  let servers: Server[] = [];

  beforeAll(async () => {
    const config = join(dir, 'crash.yaml');
    await writeFile(
      config,
      `stores:\n  serving: "${TEST_REDIS_URL}?prefix=${prefix}"\n  metadata: "sqlite:${join(dir, 'crash-meta.db')}"\n`,
    );
    servers = await Promise.all([
      startServer(config, join(dir, 'crash-a')),
      startServer(config, join(dir, 'crash-b')),
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await clearPrefix(prefix);
  });

  it('counts every feedback exactly once when the client retries what a killed process left unanswered', async () => {
    const [survivor, doomed] = servers;
    expect(
      (await call(survivor.base, 'PUT', '/v1/bandits/crash', { policy: 'linucb', dim: 3 })).status,
    ).toBe(201);
    const candidates = Array.from({ length: 8 }, (_, k) => `item${k}`);
    const decisions = 400;
    const made = await Promise.all(
      Array.from({ length: decisions }, (_, k) =>
        call(survivor.base, 'POST', '/v1/bandits/crash/decide', {
          context: [1, k % 4, -0.5],
          candidates,
          slots: 2,
        }),
      ),
    );
    // Every feedback goes to the doomed process at once; it is killed while they are in flight,
    // so some were counted and answered, some counted and not answered, some neither.
    let answered = 0;
    const first = made.map((d) =>
      call(doomed.base, 'POST', '/v1/bandits/crash/feedback', {
        decisionId: d.body.decisionId,
        rewards: [1, 0],
      }).then(
        (r) => {
          if (++answered === 40) doomed.child.kill('SIGKILL');
          return r.status;
        },
        () => null,
      ),
    );
    const firstStatus = await Promise.all(first);
    servers = [survivor];
    // The client retries every request that got no answer on the other process.
    let retried = 0;
    for (let k = 0; k < decisions; k++) {
      if (firstStatus[k] === 200) continue;
      retried++;
      const again = await call(survivor.base, 'POST', '/v1/bandits/crash/feedback', {
        decisionId: made[k].body.decisionId,
        rewards: [1, 0],
      });
      // 200: the dead process had not counted it; 409: it had, just before dying.
      expect([200, 409]).toContain(again.status);
    }
    expect(retried).toBeGreaterThan(0);
    const summary = (await call(survivor.base, 'GET', '/v1/bandits/crash')).body;
    expect(summary.arms.reduce((t: number, arm: { n: number }) => t + arm.n, 0)).toBe(
      decisions * 2,
    );
    expect(
      summary.arms.reduce((t: number, arm: { rewardSum: number }) => t + arm.rewardSum, 0),
    ).toBe(decisions);
  });
});

if (!runRedis)
  console.warn(
    `[bandits-api.test] Redis at ${TEST_REDIS_URL} is unreachable and CI is not set: skipping the bandit API suites.`,
  );
