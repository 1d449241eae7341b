/**
 * Probes of the roles without an HTTP API (issue 21): the health listener itself against the
 * real Redis and a port nothing listens on, and `kiban worker --health-port 0` as a process:
 * its /readyz answers while it takes tasks, and SIGTERM still stops it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHealthPort, redisCheck, startHealthServer } from '../src/app/health-server.js';

const REDIS = 'redis://127.0.0.1:6379';

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

describe('health listener', () => {
  it('answers /healthz, and /readyz by its checks: 200 with Redis up, 503 while one fails', async () => {
    const up = redisCheck(REDIS);
    const down = redisCheck('redis://127.0.0.1:1');
    const server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      checks: { redis: up.check },
    });
    const failing = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      checks: { redis: up.check, other: down.check },
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect(await getJson(`${base}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
      expect(await getJson(`${base}/readyz`)).toEqual({
        status: 200,
        body: { status: 'ready', checks: { redis: true } },
      });
      expect((await getJson(`${base}/metrics`)).status).toBe(404);
      expect(await getJson(`http://127.0.0.1:${failing.port}/readyz`)).toEqual({
        status: 503,
        body: { status: 'not ready', checks: { redis: true, other: false } },
      });
    } finally {
      await server.close();
      await failing.close();
      await up.close();
      await down.close();
    }
  });

  it('refuses a port that is not one, and a port in use, naming --health-port', async () => {
    expect(() => parseHealthPort('http')).toThrow(/--health-port.*must be a port from 0 to 65535/);
    expect(() => parseHealthPort('70000')).toThrow(/--health-port/);
    const taken = await startHealthServer({ port: 0, host: '127.0.0.1', checks: {} });
    try {
      await expect(
        startHealthServer({ port: taken.port, host: '127.0.0.1', checks: {} }),
      ).rejects.toThrow(/--health-port.*cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    } finally {
      await taken.close();
    }
  });
});

describe('kiban worker --health-port', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('serves /readyz while it takes tasks and stops on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-probes-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'worker',
        '--redis',
        REDIS,
        '--queue',
        `probes-${process.pid}`,
        '--metadata',
        `sqlite:${join(dir, 'meta.db')}`,
        '--health-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = once(child, 'exit');
    try {
      // The port picked for 0 is on stderr, before the worker says it takes tasks on stdout.
      let port = 0;
      for await (const line of createInterface({ input: child.stderr })) {
        const match = /^probes on :(\d+)/.exec(line);
        if (match !== null) {
          port = Number(match[1]);
          break;
        }
      }
      expect(port).toBeGreaterThan(0);
      for await (const line of createInterface({ input: child.stdout }))
        if (line.includes('is taking tasks')) break;
      expect(await getJson(`http://127.0.0.1:${port}/readyz`)).toEqual({
        status: 200,
        body: { status: 'ready', checks: { redis: true } },
      });
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
