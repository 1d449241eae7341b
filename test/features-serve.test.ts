// The serve role with `features.repo` set: the feature routes are mounted over the online store
// that goes with the serving store, and a pushed row is read back online.
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { startServeRole } from '../src/app/roles/serve.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from './fixtures/redis-available.js';
import { send } from './fixtures/token-authenticator.js';

const reachable = await redisAnswers(TEST_REDIS_URL);
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-features-serve-'));
  // A copy of the example repository: pushes write its push-log/.
  await cp('examples/features', join(dir, 'repo'), { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function serveWith(lines: string[]) {
  const file = join(dir, `${randomUUID()}.yaml`);
  await writeFile(
    file,
    [
      'stores:',
      `  metadata: sqlite:${join(dir, 'meta.db')}`,
      `  artifacts: ${join(dir, 'models')}`,
      `  work: ${join(dir, 'work')}`,
      ...lines,
      '',
    ].join('\n'),
  );
  const role = await startServeRole(await loadKibanConfig({ file, env: {} }));
  await role.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(role.app.server.address() as { port: number }).port}`;
  return { role, base };
}

/** Pushes one user_stats row for `user` and reads it back through the feature service. */
async function pushAndRead(base: string, user: number, total: number) {
  const pushed = await send(base, 'POST', '/v1/features/push', {
    body: {
      view: 'user_stats',
      rows: [
        {
          user_id: user,
          event_time: new Date().toISOString(),
          ratings_1d: 2,
          mean_rating_1d: 4.5,
          ratings_total: total,
        },
      ],
    },
  });
  expect(pushed).toMatchObject({ status: 200, body: { rows: 1, stored: 1 } });
  return send(base, 'POST', '/v1/features/online', {
    body: { featureService: 'user_activity', entities: [{ user_id: user }, { user_id: 999999 }] },
  });
}

describe('features in the serve role', () => {
  it('mounts the routes over a SQLite online store beside the SQLite serving store', async () => {
    const { role, base } = await serveWith([
      `  serving: sqlite:${join(dir, 'serving.db')}`,
      'features:',
      `  repo: ${join(dir, 'repo')}`,
    ]);
    try {
      const read = await pushAndRead(base, 1, 321);
      expect(read.status).toBe(200);
      expect(read.body.features).toEqual([
        'user_stats:ratings_1d',
        'user_stats:mean_rating_1d',
        'user_stats:ratings_total',
      ]);
      expect(read.body.results[0].values).toEqual([2, 4.5, 321]);
      expect(read.body.results[1].statuses).toEqual(['missing', 'missing', 'missing']);
    } finally {
      await role.app.close();
      await role.close();
    }
    // The default online store: features.db beside serving.db.
    expect((await stat(join(dir, 'features.db'))).isFile()).toBe(true);
  });

  it('leaves the routes out without features.repo', async () => {
    const { role, base } = await serveWith([`  serving: sqlite:${join(dir, 'serving2.db')}`]);
    try {
      const answer = await send(base, 'POST', '/v1/features/online', {
        body: { featureService: 'user_activity', entities: [{ user_id: 1 }] },
      });
      expect(answer.status).toBe(404);
    } finally {
      await role.app.close();
      await role.close();
    }
  });

  it.runIf(mustRunRedis(reachable))(
    'puts the online store on the serving Redis under its own prefix',
    async () => {
      expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
      const prefix = `kiban-test-${randomUUID()}:`;
      const { role, base } = await serveWith([
        `  serving: "${TEST_REDIS_URL}?prefix=${prefix}"`,
        'features:',
        `  repo: ${join(dir, 'repo')}`,
      ]);
      const raw = new Redis(TEST_REDIS_URL);
      try {
        const read = await pushAndRead(base, 2, 17);
        expect(read.body.results[0].values).toEqual([2, 4.5, 17]);
        const stem = prefix.slice(0, -1);
        expect(await raw.keys(`${stem}-features:*`)).not.toEqual([]);
      } finally {
        await role.app.close();
        await role.close();
        for (const pattern of [`${prefix}*`, `${prefix.slice(0, -1)}-features:*`]) {
          const keys = await raw.keys(pattern);
          if (keys.length > 0) await raw.unlink(...keys);
        }
        await raw.quit();
      }
    },
  );
});
