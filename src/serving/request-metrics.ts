import type { FastifyInstance } from 'fastify';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Measures every request `app` answers: returns a new registry holding the process's default
 * metrics and `kiban_http_request_duration_seconds`, a histogram by method, route pattern (or
 * `unmatched`) and status, in seconds. Call it on the root instance before registering route
 * plugins, so that its hook covers their routes too.
 *
 * @example
 * const registry = instrumentRequests(app);
 * app.register(metricsRoutes, { registry });
 */
export function instrumentRequests(app: FastifyInstance): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latency = new Histogram({
    name: 'kiban_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // Label lookups cost more than the observation itself; keep one child per label set.
  const children = new Map<string, { observe(seconds: number): void }>();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let child = children.get(key);
    if (child === undefined)
      children.set(
        key,
        (child = latency.labels({
          method: request.method,
          route,
          status: String(reply.statusCode),
        })),
      );
    child.observe(reply.elapsedTime / 1000);
  });
  return registry;
}
