import type { FastifyContextConfig, FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Options of {@link metricsRoutes}. */
export interface MetricsRoutesOptions {
  /** The registry exposed, e.g. the one `instrumentRequests` returns. */
  registry: Pick<Registry, 'contentType' | 'metrics'>;
  /**
   * Whether anyone may scrape `/metrics` (`auth.publicMetrics`); otherwise it needs
   * `metrics:read`. @defaultValue false
   */
  public?: boolean;
}

/** `GET /metrics`: the registry in Prometheus' text format (a fastify plugin; for scrapers, left out of `/openapi.json`). */
export async function metricsRoutes(
  app: FastifyInstance,
  { registry, public: isPublic = false }: MetricsRoutesOptions,
): Promise<void> {
  const config: FastifyContextConfig = isPublic ? { public: true } : { scopes: ['metrics:read'] };
  app.get('/metrics', { schema: { hide: true }, config }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
