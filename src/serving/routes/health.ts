import type { FastifyInstance } from 'fastify';
import type { ServingStore } from '../../storage/serving-store.js';

/** Probes are for the orchestrator, not API clients: left out of `/openapi.json`. */
const HIDDEN = { hide: true };

/** Options of {@link healthRoutes}. */
export interface HealthRoutesOptions {
  /** The store whose reachability and published version make the process ready. */
  serving: Pick<ServingStore, 'ping' | 'currentVersion'>;
}

/**
 * Liveness and readiness probes (a fastify plugin):
 * - `GET /healthz` → 200 `{status: 'ok'}` while the process answers at all;
 * - `GET /readyz` → `{ready, store, version}`: 200 when the serving store answers and a version is
 *   published, else 503 (with `store: false` when the store cannot be reached). Never an error body.
 */
export async function healthRoutes(
  app: FastifyInstance,
  { serving }: HealthRoutesOptions,
): Promise<void> {
  app.get('/healthz', { schema: HIDDEN, config: { public: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: HIDDEN, config: { public: true } }, async (_request, reply) => {
    const reachable = await serving.ping().catch(() => false);
    const current = reachable ? await serving.currentVersion().catch(() => null) : null;
    const ready = reachable && current !== null;
    return reply
      .status(ready ? 200 : 503)
      .send({ ready, store: reachable, version: current?.version ?? null });
  });
}
