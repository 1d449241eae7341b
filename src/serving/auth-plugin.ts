/**
 * Authentication and scopes for the serving app (issue 17).
 *
 * **The route convention.** Every route declares who may call it in its fastify route `config`:
 * - `config: { scopes: ['recs:read'] }`: a caller holding any one of the listed scopes (or
 *   `admin`) may call it;
 * - `config: { public: true }`: anyone may (probes, the OpenAPI document, the dashboard's files,
 *   login pages).
 *
 * A route declaring neither (or both, or an unknown scope) is refused when it is registered:
 * {@link installAuth}'s `onRoute` hook throws, so no route can slip in unprotected, whatever the
 * mode.
 *
 * **The request hook.** With `mode: 'required'`, an `onRequest` hook on the root (so before body
 * parsing, and before any hook a route plugin adds) lets public routes and unknown paths (404)
 * through; otherwise it asks the configured {@link Authenticator}s in order. None recognising
 * credentials → 401 `UNAUTHENTICATED`; one rejecting them → its 401; a principal without the
 * scope → 403 `FORBIDDEN` naming the scopes the route accepts. The principal is then
 * `request.principal` for handlers, rate limits and the audit log. With `mode: 'off'` nothing is
 * checked and `request.principal` stays `null`, as it does on public routes.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  hasScope,
  isScope,
  type AuthRequest,
  type Authenticator,
  type Principal,
  type Scope,
} from '../auth/principal.js';
import { ForbiddenError, UnauthenticatedError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route: any one of these scopes (or `admin`). See {@link installAuth}. */
    scopes?: readonly Scope[];
    /** Anyone may call this route, with or without credentials. See {@link installAuth}. */
    public?: boolean;
  }
  interface FastifyRequest {
    /**
     * The authenticated caller; `null` with auth off and on public routes (set by the root
     * `onRequest` hook of {@link installAuth}, so any later hook or handler can read it).
     */
    principal: Principal | null;
  }
}

/** `required`: every non-public route needs credentials; `off`: nothing is checked. */
export type AuthMode = 'required' | 'off';

/** Options of {@link installAuth}. */
export interface AuthOptions {
  mode: AuthMode;
  /**
   * The ways in, asked in order; the first to return a principal wins (see
   * {@link Authenticator}). Closed when the app closes. Built by `app/` from the configuration.
   */
  authenticators: readonly Authenticator[];
}

/** What one registered route declares, as {@link routeAuthDeclarations} lists it. */
export interface RouteAuthDeclaration {
  method: string;
  url: string;
  /** Scopes the route accepts; empty when it is public. */
  scopes: readonly Scope[];
  public: boolean;
}

/** The message of a 401 for a request that carries no credentials any authenticator knows. */
export const NO_CREDENTIALS_MESSAGE =
  'no credentials: send Authorization: Bearer <key or token> or X-API-Key';

const declarations = new WeakMap<FastifyInstance, RouteAuthDeclaration[]>();

/**
 * Every route registered on `app` (set up with {@link installAuth}) with what it declares, in
 * registration order; complete once the app is ready.
 */
export function routeAuthDeclarations(app: FastifyInstance): readonly RouteAuthDeclaration[] {
  return declarations.get(app) ?? [];
}

/**
 * Installs the route-declaration check and, with `mode: 'required'`, the authentication hook on
 * `app` (the root instance, before any route is added). See the module comment for the
 * convention. Throws at route registration when a route declares no scopes.
 *
 * @example
 * const app = Fastify();
 * installAuth(app, { mode: 'required', authenticators: [new ApiKeyAuthenticator({ store, pepper })] });
 * app.get('/v1/models', { config: { scopes: ['models:read'] } }, handler);
 */
export function installAuth(app: FastifyInstance, options: AuthOptions): void {
  const listed: RouteAuthDeclaration[] = [];
  declarations.set(app, listed);
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const where = `route ${methods.join(',')} ${route.url}`;
    const config = (route.config ?? {}) as { scopes?: unknown; public?: unknown };
    const isPublic = config.public === true;
    const scopes = config.scopes;
    if (scopes !== undefined && isPublic)
      throw new Error(`${where}: declares both config.public and config.scopes; give one`);
    if (!isPublic) {
      if (!Array.isArray(scopes) || scopes.length === 0)
        throw new Error(
          `${where}: declares no scopes; give it config: { scopes: [...] } (one of the SCOPES of src/auth/principal.ts) or config: { public: true }`,
        );
      const unknown = scopes.find((s) => typeof s !== 'string' || !isScope(s));
      if (unknown !== undefined)
        throw new Error(`${where}: config.scopes: unknown scope ${JSON.stringify(unknown)}`);
    }
    for (const method of methods)
      listed.push({
        method,
        url: route.url,
        scopes: isPublic ? [] : [...(scopes as Scope[])],
        public: isPublic,
      });
  });
  app.addHook('onClose', async () => {
    for (const authenticator of options.authenticators) await authenticator.close?.();
  });
  if (options.mode === 'off') return;
  const authenticators = [...options.authenticators];
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config.public === true || request.is404) return;
    const principal = await authenticate(authenticators, request);
    if (principal === null) {
      void reply.header('www-authenticate', 'Bearer realm="kiban"');
      throw new UnauthenticatedError(NO_CREDENTIALS_MESSAGE);
    }
    const accepted = config.scopes ?? [];
    if (!hasScope(principal, accepted))
      throw new ForbiddenError(
        `${request.method} ${request.routeOptions.url} needs one of the scopes ${accepted.join(', ')} (or admin); ${principal.kind} "${principal.name}" holds ${[...principal.scopes].join(', ') || 'none'}`,
      );
    request.principal = principal;
  });
}

/** The first principal an authenticator finds in `request`, or null; rejections propagate. */
async function authenticate(
  authenticators: readonly Authenticator[],
  request: FastifyRequest,
): Promise<Principal | null> {
  const seen: AuthRequest = {
    headers: request.headers,
    ip: request.ip,
    method: request.method,
    ...((request as { cookies?: AuthRequest['cookies'] }).cookies === undefined
      ? {}
      : { cookies: (request as { cookies?: AuthRequest['cookies'] }).cookies }),
  };
  for (const authenticator of authenticators) {
    const principal = await authenticator.authenticate(seen);
    if (principal !== null) return principal;
  }
  return null;
}
