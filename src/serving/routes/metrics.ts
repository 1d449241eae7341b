import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Options of {@link metricsRoutes}. */
export interface MetricsRoutesOptions {
  /** The registry exposed, e.g. the one `instrumentRequests` returns. */
  registry: Pick<Registry, 'contentType' | 'metrics'>;
}

/** `GET /metrics`: the registry in Prometheus' text format (a fastify plugin; for scrapers, left out of `/openapi.json`). */
export async function metricsRoutes(
  app: FastifyInstance,
  { registry }: MetricsRoutesOptions,
): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
