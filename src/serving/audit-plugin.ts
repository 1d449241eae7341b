/**
 * The audit log of the serving app (issue 17.5): every write to the API (a POST, PUT, PATCH or
 * DELETE that reached a route) is recorded after its answer is sent, with the caller
 * (`request.principal`, or anonymous), the route, its path parameters, the status and the peer
 * address.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditRecord, AuditStore } from '../auth/audit-store.js';
import type { Logger } from '../core/log.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false` leaves this route's requests out of the audit log: data-plane calls sent as POST
     * that change nothing an administrator audits (a tag suggestion, a bandit decision already in
     * the decision log, ingested events), at a volume that would swamp it. See {@link installAudit}.
     */
    audit?: boolean;
  }
}

/** The HTTP methods whose requests are recorded. */
export const AUDITED_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** How many records may be waiting for the store before new ones are dropped (and logged). */
export const DEFAULT_MAX_PENDING_AUDIT_WRITES = 10_000;

/** Options of {@link installAudit}. */
export interface AuditOptions {
  /** Where entries go (`metadata.audit`). */
  store: Pick<AuditStore, 'record'>;
  /** Where a failed or dropped record is reported (never the request's body or credentials). */
  logger: Logger;
  /**
   * Records waiting for the store beyond which new ones are dropped with an `error` entry, so a
   * slow or unreachable database cannot make the server hold unbounded memory.
   * @defaultValue {@link DEFAULT_MAX_PENDING_AUDIT_WRITES}
   */
  maxPending?: number;
}

/**
 * Adds the audit `onResponse` hook to `app` (the root instance, before the route plugins are
 * registered, so that every route inherits it). Recording never fails or delays a request: the
 * hook hands the record to the store without waiting for it, a failed write is logged through
 * `logger`, and the writes still pending are awaited when the app closes. Requests that matched
 * no route (404s of unknown paths) are not recorded: they wrote nothing; nor are those of routes
 * declaring `config: { audit: false }` (data-plane POSTs: `/v1/tags/suggest`, bandit
 * `decide`/`feedback`, `/v1/events`).
 *
 * The principal is read from `request.principal` (set by the auth hook; absent or null means an
 * anonymous caller: auth off, a public route, or a request refused before authentication, whose
 * 401 is recorded too).
 *
 * @example
 * installAudit(app, { store: metadata.audit, logger });
 */
export function installAudit(app: FastifyInstance, options: AuditOptions): void {
  const { store, logger } = options;
  const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_AUDIT_WRITES;
  const pending = new Set<Promise<void>>();
  let dropped = 0;

  app.addHook('onResponse', (request, reply, done) => {
    if (
      !AUDITED_METHODS.has(request.method) ||
      request.is404 ||
      request.routeOptions.config.audit === false
    )
      return done();
    if (pending.size >= maxPending) {
      // One entry per burst of drops, not one per request.
      if (dropped++ === 0)
        logger.error(
          { maxPending },
          'audit log: too many records waiting for the store; dropping new ones',
        );
      return done();
    }
    dropped = 0;
    let record: AuditRecord;
    try {
      record = auditRecordOf(request, reply);
    } catch (error) {
      logger.error({ err: error, requestId: request.id }, 'audit log: could not build the record');
      return done();
    }
    const write: Promise<void> = store
      .record(record)
      .catch((error: unknown) => {
        logger.error(
          { err: error, action: record.action, requestId: record.requestId },
          `audit log: recording ${record.action} failed`,
        );
      })
      .finally(() => pending.delete(write));
    pending.add(write);
    done();
  });

  app.addHook('onClose', async () => {
    while (pending.size > 0) await Promise.all([...pending]);
  });
}

/** What the audit log records of one answered request. */
export function auditRecordOf(request: FastifyRequest, reply: FastifyReply): AuditRecord {
  const principal = (request as { principal?: FastifyRequest['principal'] }).principal ?? null;
  const route = request.routeOptions.url ?? request.url.split('?')[0] ?? '';
  return {
    // The arrival time: now less the time the answer took.
    at: new Date(Date.now() - Math.round(reply.elapsedTime)),
    principalId: principal?.id ?? null,
    principalName: principal?.name ?? null,
    method: principal?.method ?? 'none',
    action: `${request.method} ${route}`,
    target: stringParams(request.params),
    status: reply.statusCode,
    ip: request.ip,
    requestId: String(request.id),
  };
}

function stringParams(params: unknown): Record<string, string> {
  const target: Record<string, string> = {};
  if (params === null || typeof params !== 'object') return target;
  for (const [key, value] of Object.entries(params)) target[key] = String(value);
  return target;
}
