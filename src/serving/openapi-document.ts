import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

/** The `info` block of the serving API's OpenAPI document. */
export const OPENAPI_INFO = Object.freeze({ title: 'kiban serving API' });

/** The OpenAPI version the document declares (JSON Schema 2020-12 schemas, `type: [..., 'null']`). */
export const OPENAPI_VERSION = '3.1.0';

/**
 * Registers `@fastify/swagger` on `app` (before any route: it collects routes as they are
 * added): every route is documented from its own zod schema, except those whose
 * schema says `hide: true` (probes, metrics, the document itself, the dashboard's files).
 * {@link openApiDocument} reads the result.
 */
export function registerOpenApi(app: FastifyInstance, version: string): void {
  void app.register(swagger, {
    openapi: { openapi: OPENAPI_VERSION, info: { ...OPENAPI_INFO, version } },
    // zod → JSON Schema: requests as they are taken, answers as they are written.
    transform: jsonSchemaTransform,
  });
}

type Operation = { parameters?: { in: string }[] };

/**
 * The OpenAPI document of `app` (set up with {@link registerOpenApi}; the app must be ready):
 * `@fastify/swagger`'s output with each operation's path parameters listed before its query
 * parameters, in the order the URL and the schema give them. Built once per app by swagger.
 */
export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  const document = structuredClone(app.swagger()) as unknown as {
    paths?: Record<string, Record<string, Operation>>;
  } & Record<string, unknown>;
  const rank = (p: { in: string }): number => (p.in === 'path' ? 0 : p.in === 'query' ? 1 : 2);
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      // Array.prototype.sort is stable: within each kind the schema's order stays.
      if (Array.isArray(operation.parameters))
        operation.parameters.sort((a, b) => rank(a) - rank(b));
    }
  }
  return document;
}
