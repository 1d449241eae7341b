import { Option } from 'commander';
import {
  type HealthCheck,
  type HealthServer,
  parseHealthPort,
  redisCheck,
  startHealthServer,
} from '../app/health-server.js';

/** `--health-port` (or `KIBAN_HEALTH_PORT`) of the roles without an HTTP API. */
export function healthPortOption(): Option {
  return new Option(
    '--health-port <port>',
    'serve GET /healthz (liveness) and /readyz (Redis answers) on this port for Kubernetes probes; off by default',
  )
    .env('KIBAN_HEALTH_PORT')
    .argParser(parseHealthPort);
}

/**
 * Starts the probe listener of `--health-port` (nothing when it is absent), ready while the Redis
 * at `redisUrl` answers (when given); returns the function that stops it.
 */
export async function startProbes(
  port: number | undefined,
  redisUrl: string | undefined,
): Promise<() => Promise<void>> {
  if (port === undefined) return async () => {};
  const redis = redisUrl === undefined ? null : redisCheck(redisUrl);
  const checks: Record<string, HealthCheck> = redis === null ? {} : { redis: redis.check };
  let server: HealthServer;
  try {
    server = await startHealthServer({ port, checks });
  } catch (error) {
    await redis?.close();
    throw error;
  }
  process.stderr.write(`probes on :${server.port} (/healthz, /readyz)\n`);
  return async () => {
    await server.close();
    await redis?.close();
  };
}
