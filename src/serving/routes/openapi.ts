import type { FastifyInstance } from 'fastify';
import { openApiDocument } from '../openapi-document.js';

/**
 * `GET /openapi.json`: the OpenAPI document `@fastify/swagger` builds from every route's schema
 * (see {@link openApiDocument}; the app registers swagger first). The route leaves itself out of
 * the document. A fastify plugin.
 */
export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  let document: Record<string, unknown> | undefined;
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => {
    document ??= openApiDocument(app);
    return document;
  });
}
