import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  type AuditStore,
  DEFAULT_AUDIT_LIST_LIMIT,
  MAX_AUDIT_LIST_LIMIT,
} from '../../auth/audit-store.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link auditRoutes}. */
export interface AuditRoutesOptions {
  /** The audit log read (`metadata.audit`). */
  store: Pick<AuditStore, 'list'>;
}

const auditEntry = z.object({
  id: z.string().describe('the entry id; ids grow in the order entries were recorded'),
  at: z.string().describe('when the request arrived (ISO 8601)'),
  principalId: z.string().nullable().describe('the caller; null when anonymous'),
  principalName: z.string().nullable(),
  method: z
    .string()
    .describe('how the caller authenticated: api-key, jwt, session, proxy, dev or none'),
  action: z.string().describe('HTTP method and route, e.g. POST /v1/experiments/:name/start'),
  target: z.record(z.string(), z.string()).describe("the route's path parameters"),
  status: z.int().describe('the HTTP status answered'),
  ip: z.string().describe('the peer address'),
  requestId: z.string(),
});

/** `GET /v1/audit` in zod. */
export const auditListRoute = {
  summary: 'The audit log of writes to the API',
  description:
    'Every POST, PUT, PATCH and DELETE that reached a route, newest first: who (the principal, or null when anonymous), what (the route and its path parameters), when, from where and the status answered. Pass nextCursor as cursor for the next page.',
  querystring: z.strictObject({
    from: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('only entries at or after this time'),
    to: z.iso.datetime({ offset: true }).optional().describe('only entries before this time'),
    principal: z.string().min(1).max(512).optional().describe('only entries of this principal id'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_AUDIT_LIST_LIMIT)
      .default(DEFAULT_AUDIT_LIST_LIMIT)
      .describe('most entries listed'),
    cursor: z.string().min(1).max(64).optional().describe("a previous page's nextCursor"),
  }),
  response: {
    200: z.object({ entries: z.array(auditEntry), nextCursor: z.string().nullable() }),
    400: errorSchema,
    401: errorSchema,
    403: errorSchema,
  },
};

/**
 * `GET /v1/audit` (a fastify plugin): the audit log, filtered by time and principal and paged
 * by cursor. Needs the `audit:read` scope (or `admin`).
 */
export async function auditRoutes(
  app: FastifyInstance,
  { store }: AuditRoutesOptions,
): Promise<void> {
  app
    .withTypeProvider<ZodTypeProvider>()
    .get(
      '/v1/audit',
      { schema: auditListRoute, config: { scopes: ['audit:read'] } },
      async (request) => {
        const { from, to, principal, limit, cursor } = request.query;
        const page = await store.list({
          limit,
          ...(from === undefined ? {} : { from: new Date(from) }),
          ...(to === undefined ? {} : { to: new Date(to) }),
          ...(principal === undefined ? {} : { principal }),
          ...(cursor === undefined ? {} : { cursor }),
        });
        return {
          entries: page.entries.map((e) => ({ ...e, at: e.at.toISOString() })),
          nextCursor: page.nextCursor,
        };
      },
    );
}
