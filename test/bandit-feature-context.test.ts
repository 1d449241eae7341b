/**
 * End to end (issue 20, "Used by the rest of kiban"): a linear bandit whose context comes from a
 * feature service. A feature repository on a small CSV is materialised into a real online store
 * (SQLite, and the real Redis), a LinUCB bandit is defined with the service as its context,
 * decisions name only an entity over HTTP, feedback is recorded, and the decision log holds
 * exactly the online values (missing and expired ones as 0), which off-policy evaluation reads.
 */
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { startServeRole } from '../src/app/roles/serve.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import {
  DecisionLogWriter,
  readDecisionLogLines,
  type DecisionLogEntry,
} from '../src/bandits/decision-log.js';
import { readDecisionLog } from '../src/bandits/ope/read-decision-log.js';
import { runOpe } from '../src/bandits/ope/run-ope.js';
import { loadFeatureRepository } from '../src/features/feature-definitions.js';
import type { FeatureRepository } from '../src/features/feature-types.js';
import { materialize } from '../src/features/materialize.js';
import { DuckDBOfflineFeatureStore } from '../src/features/offline-store.js';
import type { OnlineFeatureStore } from '../src/features/online-store.js';
import { RedisOnlineFeatureStore } from '../src/storage/redis-online-feature-store.js';
import { SqliteOnlineFeatureStore } from '../src/storage/sqlite-online-feature-store.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { MemoryBanditStore } from '../src/storage/memory-bandit-store.js';
import { call } from './fixtures/http-json.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from './fixtures/redis-available.js';

const DAY = 86_400_000;
/** The test's "now": feature rows are placed relative to it, and TTLs are measured from it. */
const NOW = Date.now();
const USERS = 40;

/** The expected context of each user: latest row's clicks, spend and active (as 0/1). */
const expected = new Map<string, number[]>();
/** Users with a row older than the view's 7-day TTL, and users with no row at all. */
const EXPIRED = 'u_expired';
const MISSING = 'u_missing';

let dir: string;
let repo: FeatureRepository;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-bandit-features-'));
  await mkdir(join(dir, 'data'));
  const rows = ['user_id,event_time,clicks_7d,spend_7d,active,segment'];
  const iso = (ms: number) => new Date(ms).toISOString();
  for (let i = 0; i < USERS; i += 1) {
    const user = `u${i}`;
    const clicks = (i * 7) % 11;
    const spend = Math.round(i * 1.25 * 100) / 100;
    const active = i % 3 === 0;
    // An older row first: the online store must hold the newer one.
    rows.push(`${user},${iso(NOW - 4 * DAY)},${clicks + 100},${spend + 50},${!active},old`);
    rows.push(`${user},${iso(NOW - DAY - i * 60_000)},${clicks},${spend},${active},seg${i % 4}`);
    expected.set(user, [clicks, spend, active ? 1 : 0]);
  }
  rows.push(`${EXPIRED},${iso(NOW - 10 * DAY)},9,9.5,true,x`);
  expected.set(EXPIRED, [0, 0, 0]);
  expected.set(MISSING, [0, 0, 0]);
  await writeFile(join(dir, 'data', 'user_stats.csv'), `${rows.join('\n')}\n`);
  await writeFile(
    join(dir, 'features.yaml'),
    [
      'entities:',
      '  user: { joinKey: user_id, type: string }',
      'sources:',
      '  user_stats: { path: data/user_stats.csv, timestamp: event_time }',
      'featureViews:',
      '  user_stats:',
      '    entities: [user]',
      '    source: user_stats',
      '    ttl: 7d',
      '    features: { clicks_7d: int64, spend_7d: float64, active: bool, segment: string }',
      'featureServices:',
      '  bandit_context:',
      '    features: [user_stats:clicks_7d, user_stats:spend_7d, user_stats:active]',
      '  with_text:',
      '    features: [user_stats:clicks_7d, user_stats:segment]',
      '  reordered:',
      '    features: [user_stats:spend_7d, user_stats:clicks_7d, user_stats:active]',
      '  two_numbers:',
      '    features: [user_stats:clicks_7d, user_stats:spend_7d]',
      '',
    ].join('\n'),
  );
  repo = await loadFeatureRepository(dir);
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const reachable = await redisAnswers(TEST_REDIS_URL);
const STORES: [string, (prefix: string) => OnlineFeatureStore][] = [
  ['SQLite', () => new SqliteOnlineFeatureStore(join(dir, `online-${randomUUID()}.db`))],
];
if (mustRunRedis(reachable))
  STORES.push(['Redis', (prefix) => new RedisOnlineFeatureStore(TEST_REDIS_URL, { prefix })]);

describe.each(STORES)(
  'a LinUCB bandit with its context from a feature service (%s online store)',
  (label, openStore) => {
    const prefix = `kiban-test-bandit-features-${randomUUID()}:`;
    let online: OnlineFeatureStore;
    let log: DecisionLogWriter;
    let logPath: string;
    let app: FastifyInstance;

    beforeAll(async () => {
      online = openStore(prefix);
      const offline = new DuckDBOfflineFeatureStore({ threads: 1 });
      try {
        const result = await materialize({
          repo,
          offline,
          online,
          start: new Date(NOW - 30 * DAY),
          end: new Date(NOW + DAY),
          stepMs: 31 * DAY,
        });
        // Every user's latest row, the expired user's included.
        expect(result.rowsStored).toBe(USERS + 1);
      } finally {
        await offline.close();
      }
      logPath = join(dir, `decisions-${label}-${randomUUID()}.jsonl`);
      log = await DecisionLogWriter.open(logPath);
      const bandits = new BanditService(new MemoryBanditStore(), {
        log,
        pollMs: 20,
        features: { repo, online, now: () => NOW },
      });
      app = createServingApp({ serving: new MemoryServingStore(), webRoot: false, bandits });
      await app.ready();
    });
    afterAll(async () => {
      await app?.close();
      await log?.close();
      await online?.close();
      if (label === 'Redis') {
        const raw = new Redis(TEST_REDIS_URL);
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.unlink(...keys);
        raw.disconnect();
      }
    });

    const inject = async (method: 'PUT' | 'POST' | 'GET', url: string, payload?: object) => {
      const response = await app.inject({
        method,
        url,
        ...(payload === undefined ? {} : { payload }),
      });
      return { status: response.statusCode, body: response.json() as any };
    };

    it('refuses feature services that cannot be the context at definition time', async () => {
      const text = await inject('PUT', '/v1/bandits/bad', {
        policy: 'linucb',
        dim: 2,
        featureService: 'with_text',
      });
      expect(text.status).toBe(400);
      expect(text.body.message).toMatch(/featureService: .*"user_stats:segment" of type string/);
      const width = await inject('PUT', '/v1/bandits/bad', {
        policy: 'linucb',
        dim: 4,
        featureService: 'bandit_context',
      });
      expect(width.status).toBe(400);
      expect(width.body.message).toMatch(/featureService: .*gives 3 feature\(s\); dim is 4/);
      const unknown = await inject('PUT', '/v1/bandits/bad', {
        policy: 'linucb',
        dim: 3,
        featureService: 'nope',
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toMatch(/no feature service "nope"/);
    });

    it('decides over HTTP with contexts read from the online store, logs them exactly, and OPE runs over the log', async () => {
      const defined = await inject('PUT', '/v1/bandits/ctx', {
        policy: 'linucb',
        dim: 3,
        featureService: 'bandit_context',
      });
      expect(defined.status).toBe(201);
      expect(defined.body.definition.featureService).toBe('bandit_context');
      const again = await inject('PUT', '/v1/bandits/ctx', {
        policy: 'linucb',
        dim: 3,
        featureService: 'reordered',
      });
      expect(again.status).toBe(409);
      expect(again.body.message).toMatch(/feature service "bandit_context"/);

      // A string feature in a service named at decide time, a service of another width, a bad entity.
      const text = await inject('POST', '/v1/bandits/ctx/decide', {
        context: { featureService: 'with_text', entity: { user_id: 'u1' } },
        candidates: ['a', 'b'],
      });
      expect(text.status).toBe(400);
      expect(text.body.message).toMatch(/^context\.featureService: .*of type string/);
      const narrow = await inject('POST', '/v1/bandits/ctx/decide', {
        context: { featureService: 'two_numbers', entity: { user_id: 'u1' } },
        candidates: ['a', 'b'],
      });
      expect(narrow.status).toBe(400);
      expect(narrow.body.message).toMatch(/gives 2 feature\(s\); bandit "ctx" takes 3/);
      const noKey = await inject('POST', '/v1/bandits/ctx/decide', {
        context: { entity: { account: 'u1' } },
        candidates: ['a', 'b'],
      });
      expect(noKey.status).toBe(400);
      expect(noKey.body.message).toMatch(/^context\.entity\.user_id: is missing/);
      const tooMany = await inject('POST', '/v1/bandits/ctx/decide', {
        context: {
          entity: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])),
        },
        candidates: ['a', 'b'],
      });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.message).toMatch(/at most 16 join keys/);

      const users = [...expected.keys()];
      const made = new Map<string, string>();
      const rounds = 120;
      for (let r = 0; r < rounds; r += 1) {
        const user = users[r % users.length];
        // Half name the service explicitly, half rely on the bandit's default.
        const context =
          r % 2 === 0
            ? { entity: { user_id: user } }
            : { featureService: 'bandit_context', entity: { user_id: user } };
        const decided = await inject('POST', '/v1/bandits/ctx/decide', {
          context,
          candidates: ['a', 'b', 'c'],
        });
        expect(decided.status).toBe(200);
        const fill = user === EXPIRED ? [0, 3] : user === MISSING ? [3, 0] : [0, 0];
        expect(decided.body.featureContext).toEqual({
          featureService: 'bandit_context',
          missing: fill[0],
          expired: fill[1],
        });
        made.set(decided.body.decisionId, user);
        // Arm a pays when the user is active, b when clicks are high, c never.
        const [clicks, , active] = expected.get(user)!;
        const arm = decided.body.arms[0] as string;
        const reward = arm === 'a' ? active : arm === 'b' ? (clicks > 5 ? 1 : 0) : 0;
        const fed = await inject('POST', '/v1/bandits/ctx/feedback', {
          decisionId: decided.body.decisionId,
          rewards: [reward],
        });
        expect(fed.status).toBe(200);
      }
      // Numbers still work beside feature contexts.
      const plain = await inject('POST', '/v1/bandits/ctx/decide', {
        context: [1, 2, 3],
        candidates: ['a', 'b'],
      });
      expect(plain.status).toBe(200);
      expect(plain.body.featureContext).toBeUndefined();
      await log.flush();

      const decisions = new Map<string, DecisionLogEntry>();
      for await (const line of readDecisionLogLines([logPath]))
        if (line.type === 'decision') decisions.set(line.decisionId, line);
      expect(decisions.size).toBe(rounds + 1);
      for (const [decisionId, user] of made) {
        const entry = decisions.get(decisionId)!;
        expect(entry.context, user).toEqual(expected.get(user));
        expect(entry.featureContext?.entity).toEqual({ user_id: user });
        expect(entry.featureContext?.featureService).toBe('bandit_context');
      }
      // The vectors the policy used are distinct per user: the features did reach the policy.
      expect(new Set([...decisions.values()].map((d) => d.context.join(','))).size).toBe(
        USERS + 1 + 1,
      );

      const read = await readDecisionLog(logPath, { bandit: 'ctx' });
      expect(read.decisions).toBe(rounds + 1);
      expect(read.log.contextDim).toBe(3);
      // The OPE log's context rows are the logged vectors (as a multiset: it orders rows by time).
      const opeRows = Array.from({ length: read.log.rows }, (_, i) =>
        Array.from(read.log.context.subarray(i * 3, i * 3 + 3)).join(','),
      ).sort();
      expect(opeRows).toEqual([...decisions.values()].map((d) => d.context.join(',')).sort());
      const report = runOpe(read.log, { policy: 'linucb', resamples: 50, seed: 1 });
      expect(report.contextDim).toBe(3);
      expect(report.rows).toBe(rounds + 1);
      for (const name of ['ips', 'snips', 'dm', 'dr'] as const) {
        const estimate = report.estimates[name]!;
        expect(Number.isFinite(estimate.value), name).toBe(true);
        expect(estimate.value).toBeGreaterThanOrEqual(-0.5);
        expect(estimate.value).toBeLessThanOrEqual(1.5);
      }
    });
  },
);

describe('the serve role with features.repo', () => {
  it('gives the bandit service the feature repository and online store', async () => {
    const root = join(dir, 'serve');
    await cp('examples/features', join(root, 'repo'), { recursive: true });
    const file = join(root, 'kiban.yaml');
    await writeFile(
      file,
      [
        'stores:',
        `  metadata: sqlite:${join(root, 'meta.db')}`,
        `  serving: sqlite:${join(root, 'serving.db')}`,
        `  artifacts: ${join(root, 'models')}`,
        `  work: ${join(root, 'work')}`,
        'serve:',
        `  banditLog: ${join(root, 'bandit-logs')}`,
        'features:',
        `  repo: ${join(root, 'repo')}`,
        '',
      ].join('\n'),
    );
    const role = await startServeRole(await loadKibanConfig({ file, env: {} }));
    let closed = false;
    try {
      await role.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(role.app.server.address() as { port: number }).port}`;
      const pushed = await call(base, 'POST', '/v1/features/push', {
        view: 'user_stats',
        rows: [
          {
            user_id: 7,
            event_time: new Date().toISOString(),
            ratings_1d: 3,
            mean_rating_1d: 3.5,
            ratings_total: 120,
          },
        ],
      });
      expect(pushed.status).toBe(200);
      const defined = await call(base, 'PUT', '/v1/bandits/home', {
        policy: 'lints',
        dim: 3,
        featureService: 'user_activity',
      });
      expect(defined.status).toBe(201);
      const decided = await call(base, 'POST', '/v1/bandits/home/decide', {
        context: { entity: { user_id: 7 } },
        candidates: ['x', 'y'],
      });
      expect(decided.status).toBe(200);
      expect(decided.body.featureContext).toEqual({
        featureService: 'user_activity',
        missing: 0,
        expired: 0,
      });
      // Closing flushes the decision log.
      closed = true;
      await role.app.close();
      await role.close();
      const logs = join(root, 'bandit-logs');
      const files = (await readdir(logs)).map((f) => join(logs, f));
      const contexts: number[][] = [];
      for await (const line of readDecisionLogLines(files))
        if (line.type === 'decision') contexts.push(line.context);
      expect(contexts).toEqual([[3, 3.5, 120]]);
    } finally {
      if (!closed) {
        await role.app.close();
        await role.close();
      }
    }
  });
});
