/**
 * Probes for the roles that serve no HTTP API (`kiban worker`, `kiban scheduler`, `kiban stage
 * bullmq-worker`): with `--health-port`, a bare HTTP listener answers `GET /healthz` (the process
 * and its event loop answer: liveness) and `GET /readyz` (every check passes: readiness), for
 * Kubernetes `httpGet` probes. Nothing else is served, and nothing but the checks' names and
 * results is said.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { InvalidArgumentError } from '../core/errors.js';
import { quitRedis, redisAnswers } from '../storage/redis-ping.js';

/** A readiness check: true when what it checks answers. Must not throw. */
export type HealthCheck = () => Promise<boolean>;

/** A running health listener. */
export interface HealthServer {
  /** The port it listens on (the one asked for, or the one picked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Options of {@link startHealthServer}. */
export interface HealthServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** @defaultValue `0.0.0.0`: probes come from the node, not from inside the pod */
  host?: string;
  /** Readiness checks by name; `/readyz` is 503 while any fails. */
  checks: Readonly<Record<string, HealthCheck>>;
}

/**
 * Starts the probe listener: `/healthz` → 200 `{"status":"ok"}`; `/readyz` → 200 or 503 with
 * `{"status":"ready"|"not ready","checks":{name: bool}}`; anything else 404.
 *
 * @example
 * const health = await startHealthServer({ port: 9464, checks: { redis: redisCheck(url) } });
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown): void => {
      response.writeHead(status, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
      });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return send(405, { status: 'GET only' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path !== '/readyz') return send(404, { status: 'not found' });
    void Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => [name, await check()] as const),
    ).then((results) => {
      const checks = Object.fromEntries(results);
      const ready = results.every(([, ok]) => ok);
      send(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new InvalidArgumentError(
          '--health-port',
          `cannot listen on ${options.host ?? '0.0.0.0'}:${options.port}: ${error.code ?? error.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  // A probe listener must never keep a stopping role alive.
  server.unref();
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A readiness check that Redis at `url` answers PING within a second, over a connection of its
 * own (opened on first use), and the function that closes it.
 */
export function redisCheck(url: string): { check: HealthCheck; close: () => Promise<void> } {
  let redis: Redis | null = null;
  return {
    check: async () => {
      if (redis === null) {
        redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 1000 });
        // A refused connection is what the check reports, not an unhandled error event.
        redis.on('error', () => {});
      }
      return redisAnswers(redis, 1000);
    },
    close: async () => {
      if (redis !== null) await quitRedis(redis);
    },
  };
}

/** Parses `--health-port`: a whole number from 0 to 65535. */
export function parseHealthPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new InvalidArgumentError(
      '--health-port',
      `must be a port from 0 to 65535, got "${value}"`,
    );
  return port;
}
