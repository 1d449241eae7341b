import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createServingApp, type ServingAppDeps } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { redisAnswers, TEST_REDIS_URL } from './fixtures/redis-available.js';
import { send, TokenAuthenticator } from './fixtures/token-authenticator.js';

const started: FastifyInstance[] = [];

async function start(deps: Partial<ServingAppDeps>): Promise<string> {
  const app = createServingApp({ serving: new MemoryServingStore(), webRoot: false, ...deps });
  started.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

afterEach(async () => {
  for (const app of started.splice(0)) await app.close();
});

/** Statuses of `n` sequential requests. */
async function statuses(base: string, n: number, path: string, token?: string) {
  const out: number[] = [];
  for (let k = 0; k < n; k++)
    out.push((await send(base, 'GET', path, token === undefined ? {} : { token })).status);
  return out;
}

describe('rate limits per principal', () => {
  it('answer 429 RATE_LIMITED with Retry-After past the limit, never on public probes', async () => {
    const base = await start({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    // Nothing is published, so /v1/models answers 503: counted all the same.
    expect(await statuses(base, 3, '/v1/models')).toEqual([503, 503, 503]);
    const over = await send(base, 'GET', '/v1/models');
    expect(over.status).toBe(429);
    expect(over.body.code).toBe('RATE_LIMITED');
    expect(over.body.message).toMatch(/at most 3 requests per 60 s; retry in /);
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(over.headers.get('x-ratelimit-limit')).toBe('3');
    expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(await statuses(base, 6, '/healthz')).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('count each principal apart, and refuse missing credentials before counting', async () => {
    const base = await start({
      rateLimit: { max: 2, timeWindowMs: 60_000 },
      auth: {
        mode: 'required',
        authenticators: [new TokenAuthenticator({ a: ['models:read'], b: ['models:read'] })],
      },
    });
    expect(await statuses(base, 3, '/v1/models', 'a')).toEqual([503, 503, 429]);
    expect(await statuses(base, 2, '/v1/models', 'b')).toEqual([503, 503]);
    expect(await statuses(base, 3, '/v1/models')).toEqual([401, 401, 401]);
  });

  it('are off unless configured', async () => {
    const base = await start({});
    expect(await statuses(base, 20, '/v1/models')).toEqual(Array(20).fill(503));
    expect((await send(base, 'GET', '/v1/models')).headers.get('x-ratelimit-limit')).toBeNull();
  });
});

const redisUp = await redisAnswers(TEST_REDIS_URL);

// Not skipped without Redis: the shared count is the point of this suite.
describe(`rate limits shared through Redis (${TEST_REDIS_URL})`, () => {
  const prefix = `kiban-test:rate-limit:${randomBytes(6).toString('hex')}:`;
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  afterAll(async () => {
    if (redisUp) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  });

  it('is reachable', () => {
    expect(redisUp, `Redis at ${TEST_REDIS_URL} is required`).toBe(true);
  });

  it('counts a caller across two servers sharing Redis', async () => {
    const limit = { max: 4, timeWindowMs: 60_000, redis, redisPrefix: prefix };
    const one = await start({ rateLimit: limit });
    const two = await start({ rateLimit: limit });
    expect(await statuses(one, 2, '/v1/models')).toEqual([503, 503]);
    expect(await statuses(two, 2, '/v1/models')).toEqual([503, 503]);
    expect(await statuses(one, 1, '/v1/models')).toEqual([429]);
    expect(await statuses(two, 1, '/v1/models')).toEqual([429]);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toEqual([`${prefix}ip:127.0.0.1`]);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});

// The serve role with auth.rateLimit from kiban.yaml, counted in the tests' Redis.
describe('auth.rateLimit in the serve role', () => {
  it('limits the role as configured, in the configured Redis', async () => {
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadKibanConfig } = await import('../src/app/config.js');
    const { startServeRole } = await import('../src/app/roles/serve.js');
    expect(redisUp, `Redis at ${TEST_REDIS_URL} is required`).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'kiban-rate-limit-'));
    const redis = new Redis(TEST_REDIS_URL);
    // The role's default prefix and this machine's address: clear what an earlier run left.
    const key = 'kiban:rate-limit:ip:127.0.0.1';
    await redis.del(key);
    const file = join(dir, 'kiban.yaml');
    await writeFile(
      file,
      [
        'stores:',
        `  serving: sqlite:${join(dir, 'serving.db')}`,
        `  metadata: sqlite:${join(dir, 'meta.db')}`,
        `  artifacts: ${join(dir, 'models')}`,
        `  work: ${join(dir, 'work')}`,
        'auth:',
        '  rateLimit:',
        '    max: 2',
        `    redis: ${TEST_REDIS_URL}`,
        '',
      ].join('\n'),
    );
    const role = await startServeRole(await loadKibanConfig({ file, env: {} }));
    try {
      await role.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(role.app.server.address() as { port: number }).port}`;
      expect(await statuses(base, 3, '/v1/models')).toEqual([503, 503, 429]);
      expect(Number(await redis.get(key))).toBe(3);
    } finally {
      await role.app.close();
      await role.close();
      await redis.del(key);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a Redis setting that is not a redis:// URL, naming the key', async () => {
    const { loadKibanConfig } = await import('../src/app/config.js');
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(await mkdtemp(join(tmpdir(), 'kiban-rate-limit-')), 'kiban.yaml');
    await writeFile(file, 'auth:\n  rateLimit:\n    max: 2\n    redis: http://127.0.0.1:6379\n');
    await expect(loadKibanConfig({ file, env: {} })).rejects.toThrow(
      /auth\.rateLimit\.redis.*redis:\/\//,
    );
  });
});
