import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { OidcLogin } from '../../auth/oidc-login.js';
import { LOGIN_TTL_SEC } from '../../auth/oidc-login.js';
import {
  SCOPES,
  type AuthRequest,
  type Authenticator,
  type Principal,
} from '../../auth/principal.js';
import type { SessionAuthenticator } from '../../auth/session-authenticator.js';
import {
  CSRF_COOKIE,
  LOGIN_COOKIE,
  parseCookies,
  SESSION_COOKIE,
  serializeCookie,
} from '../../auth/session-cookies.js';
import { UnauthenticatedError } from '../../core/errors.js';
import { NO_CREDENTIALS_MESSAGE } from '../auth-plugin.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link authRoutes}. */
export interface AuthRoutesOptions {
  /** The developer login (authorization code + PKCE); without it only `GET /v1/me` is mounted. */
  login?: OidcLogin;
  /** Makes the session cookie at the callback. Needed with `login`. */
  sessions?: SessionAuthenticator;
  /**
   * The app's authenticators, asked by `GET /v1/me` when the auth hook did not run (auth off), so
   * a logged-in developer is still shown.
   */
  authenticators: readonly Authenticator[];
  /** Whether cookies are `Secure`. @defaultValue whether the request came over HTTPS */
  secureCookies?: boolean;
}

const meResponse = z.object({
  kind: z.enum(['service', 'developer']),
  id: z.string(),
  name: z.string(),
  method: z.string().describe('api-key, jwt, session, proxy or dev'),
  scopes: z.array(z.string()),
  csrfCookie: z
    .string()
    .describe('the cookie whose value a session-authenticated write echoes in X-CSRF-Token'),
});

/**
 * Developer login for the dashboard and "who am I" (a fastify plugin):
 * - `GET /auth/login?returnTo=/path` → 302 to the issuer's authorization endpoint (state, nonce
 *   and PKCE verifier sealed in an HttpOnly `kiban_login` cookie for ten minutes);
 * - `GET /auth/callback` → exchanges the code, verifies the ID token, sets the sealed HttpOnly,
 *   SameSite=Lax `kiban_session` cookie and the readable `kiban_csrf` cookie (both `Secure` over
 *   HTTPS), and redirects to `returnTo`; a failed login is a 401 naming the reason;
 * - `POST /auth/logout` → clears both cookies (204);
 * - `GET /v1/me` → the caller's principal and scopes (any scope suffices; with auth off the
 *   configured authenticators are asked here, and no credentials is a 401).
 *
 * The `/auth/*` routes are public; the session authenticator's CSRF check covers cookie-authenticated
 * writes everywhere else.
 */
export async function authRoutes(app: FastifyInstance, options: AuthRoutesOptions): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const secure = (request: FastifyRequest): boolean =>
    options.secureCookies ?? request.protocol === 'https';

  typed.get(
    '/v1/me',
    {
      schema: {
        summary: 'The authenticated caller and its scopes',
        response: { 200: meResponse, 401: errorSchema, 403: errorSchema },
      },
      config: { scopes: [...SCOPES] },
    },
    async (request) => {
      const principal = request.principal ?? (await findPrincipal(options.authenticators, request));
      if (principal === null) throw new UnauthenticatedError(NO_CREDENTIALS_MESSAGE);
      return {
        kind: principal.kind,
        id: principal.id,
        name: principal.name,
        method: principal.method,
        scopes: [...principal.scopes],
        csrfCookie: CSRF_COOKIE,
      };
    },
  );

  const { login, sessions } = options;
  if (login === undefined) return;
  if (sessions === undefined) throw new Error('authRoutes: login needs sessions');
  const redirectUri = (request: FastifyRequest): string =>
    login.redirectUri ?? `${request.protocol}://${request.host}/auth/callback`;

  typed.get(
    '/auth/login',
    {
      schema: {
        summary: 'Start the developer login (redirects to the identity provider)',
        querystring: z.strictObject({
          returnTo: z.string().max(2048).optional().describe('a path of this site to return to'),
        }),
      },
      config: { public: true },
    },
    async (request, reply) => {
      const { url, transaction } = await login.begin(
        redirectUri(request),
        request.query.returnTo ?? '/',
      );
      void reply.header(
        'set-cookie',
        serializeCookie(LOGIN_COOKIE, transaction, {
          path: '/auth',
          maxAge: LOGIN_TTL_SEC,
          httpOnly: true,
          secure: secure(request),
        }),
      );
      return reply.redirect(url, 302);
    },
  );

  typed.get(
    '/auth/callback',
    {
      schema: {
        summary: 'Complete the developer login (the identity provider redirects here)',
        querystring: z.looseObject({
          code: z.string().optional(),
          state: z.string().optional(),
          error: z.string().optional(),
        }),
      },
      config: { public: true },
    },
    async (request, reply) => {
      const query = new URLSearchParams(request.url.split('?')[1] ?? '');
      const cookies = parseCookies(request.headers.cookie);
      const { claims, returnTo } = await login.complete(query, cookies[LOGIN_COOKIE]);
      const session = sessions.createSession(claims);
      const isSecure = secure(request);
      void reply.header('set-cookie', [
        serializeCookie(LOGIN_COOKIE, '', {
          path: '/auth',
          maxAge: 0,
          httpOnly: true,
          secure: isSecure,
        }),
        serializeCookie(SESSION_COOKIE, session.cookie, {
          maxAge: session.maxAge,
          httpOnly: true,
          secure: isSecure,
        }),
        serializeCookie(CSRF_COOKIE, session.csrf, {
          maxAge: session.maxAge,
          httpOnly: false,
          secure: isSecure,
        }),
      ]);
      return reply.redirect(returnTo, 302);
    },
  );

  typed.post(
    '/auth/logout',
    {
      schema: { summary: 'End the developer session (clears its cookies)' },
      config: { public: true },
    },
    async (request, reply) => clearSession(request, reply, secure(request)),
  );
}

/** Clears the session and CSRF cookies: 204. */
function clearSession(_request: FastifyRequest, reply: FastifyReply, secure: boolean) {
  void reply.header('set-cookie', [
    serializeCookie(SESSION_COOKIE, '', { maxAge: 0, httpOnly: true, secure }),
    serializeCookie(CSRF_COOKIE, '', { maxAge: 0, httpOnly: false, secure }),
  ]);
  return reply.status(204).send();
}

/** The first principal the authenticators find in the request, or null. */
async function findPrincipal(
  authenticators: readonly Authenticator[],
  request: FastifyRequest,
): Promise<Principal | null> {
  const seen: AuthRequest = { headers: request.headers, ip: request.ip, method: request.method };
  for (const authenticator of authenticators) {
    const principal = await authenticator.authenticate(seen);
    if (principal !== null) return principal;
  }
  return null;
}
