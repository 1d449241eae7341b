import type { FastifyInstance } from 'fastify';
import { openApiDocument, type RouteSchema } from '../schemas.js';

/** Options of {@link openApiRoutes}. */
export interface OpenApiRoutesOptions {
  /** The documented routes' schemas, keyed by OpenAPI path (`/v1/items/{itemId}/related`). */
  routes: Record<string, RouteSchema>;
  /** The API's version in the document's `info`. */
  version: string;
}

/** `GET /openapi.json`: the OpenAPI 3.1 document of `routes`, built once (a fastify plugin). */
export async function openApiRoutes(app: FastifyInstance, { routes, version }: OpenApiRoutesOptions): Promise<void> {
  const document = openApiDocument(routes, version);
  app.get('/openapi.json', async () => document);
}
