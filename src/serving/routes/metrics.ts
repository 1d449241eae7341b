import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Options of {@link metricsRoutes}. */
export interface MetricsRoutesOptions {
  /** The registry exposed, e.g. the one `instrumentRequests` returns. */
  registry: Pick<Registry, 'contentType' | 'metrics'>;
}

/** `GET /metrics`: the registry in Prometheus' text format (a fastify plugin). */
export async function metricsRoutes(app: FastifyInstance, { registry }: MetricsRoutesOptions): Promise<void> {
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}
