/**
 * Who is calling kiban's HTTP API, and what they may do. Every way in (API keys, bearer JWTs
 * from an OIDC issuer, a dashboard session, a trusted proxy's signed assertion) is an
 * {@link Authenticator} that turns a request's credentials into a {@link Principal}; the serving
 * app asks each configured authenticator in turn and checks the principal's scopes against the
 * scopes the route declares.
 */

/**
 * The scopes kiban's routes declare. A principal holding `admin` may do everything. Later areas
 * add theirs here.
 */
export const SCOPES = [
  'recs:read',
  'tags:read',
  'bandits:decide',
  'bandits:admin',
  'experiments:read',
  'experiments:write',
  'events:write',
  'workflows:read',
  'workflows:run',
  'models:read',
  'metrics:read',
  'audit:read',
  'vectors:read',
  'vectors:write',
  'features:read',
  'features:write',
  'admin',
] as const;

/**
 * A service scope (issue 22): `service:NAME` lets a principal use the routes of service `NAME`
 * (`/v1/services/NAME/…`), `service:*` those of every service. A principal with no service scope
 * uses only the `default` service (the routes without `/services/`); `admin` uses all.
 */
export type ServiceScope = `service:${string}`;

/** One of {@link SCOPES}, or a {@link ServiceScope}. */
export type Scope = (typeof SCOPES)[number] | ServiceScope;

/** A service name: lower-case letters, digits and `-`, starting with a letter, at most 32. */
export const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Whether `value` is one of {@link SCOPES} or a well-formed {@link ServiceScope}. */
export function isScope(value: string): value is Scope {
  if ((SCOPES as readonly string[]).includes(value)) return true;
  if (!value.startsWith('service:')) return false;
  const name = value.slice('service:'.length);
  return name === '*' || SERVICE_NAME.test(name);
}

/** How a principal proved who it is. */
export type AuthMethod = 'api-key' | 'jwt' | 'session' | 'proxy' | 'dev';

/** An authenticated caller. */
export interface Principal {
  /** A service (API key, service JWT) or a developer (OIDC login, proxy identity). */
  kind: 'service' | 'developer';
  /** Stable id: the key's id, the JWT's `iss`+`sub`, the developer's email. Goes into the audit log. */
  id: string;
  /** For people reading logs and the dashboard: the key's name, the developer's email or name. */
  name: string;
  scopes: ReadonlySet<Scope>;
  method: AuthMethod;
}

/** What an authenticator sees of a request: no body, nothing it could change. */
export interface AuthRequest {
  /** Lower-case header names, as Node gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The peer address the connection came from (not a forwarded header). */
  ip: string;
  /** Cookies, when the app parses them. */
  cookies?: Readonly<Record<string, string | undefined>>;
  /**
   * The HTTP method (`GET`, `POST`, …): the session authenticator demands a CSRF token on any
   * other than GET, HEAD and OPTIONS, and when it is missing.
   */
  method?: string;
}

/**
 * One way in. `authenticate` returns:
 * - `null` when the request carries no credentials of this kind (the next authenticator is asked);
 * - a {@link Principal} when it carries valid ones;
 * and throws `UnauthenticatedError` (401, with a reason that never repeats the secret) when it
 * carries credentials of this kind that are invalid, expired or revoked.
 */
export interface Authenticator {
  /** For logs and errors: `api-key`, `jwt`, `session`, `proxy`. */
  readonly name: string;
  authenticate(request: AuthRequest): Promise<Principal | null>;
  /** Releases what it holds (caches, timers, connections). */
  close?(): Promise<void>;
}

/**
 * Whether `principal` may use the routes of `service` (see {@link ServiceScope}): `admin` and
 * `service:*` may use every service; a principal holding `service:` scopes only those it names;
 * one holding none only `default`.
 */
export function mayUseService(principal: Principal, service: string): boolean {
  if (principal.scopes.has('admin') || principal.scopes.has('service:*')) return true;
  if (principal.scopes.has(`service:${service}`)) return true;
  if (service !== 'default') return false;
  for (const scope of principal.scopes) if (scope.startsWith('service:')) return false;
  return true;
}

/** Whether `principal` may call a route that declares `required` (any one of them suffices). */
export function hasScope(principal: Principal, required: readonly Scope[]): boolean {
  if (principal.scopes.has('admin')) return true;
  return required.some((scope) => principal.scopes.has(scope));
}
