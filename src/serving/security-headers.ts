/**
 * Security headers for the dashboard and the API (issue 17.5), with `@fastify/helmet`.
 *
 * @module
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * The Content-Security-Policy of every answer. The dashboard is a Vite build served from this
 * origin (`/assets/*.js` modules and `*.css`, a `data:` favicon, same-origin API calls and event
 * streams), so `'self'` is all it needs: no inline script, no other origin. Helmet's default
 * `upgrade-insecure-requests` is left out: a dashboard reached over plain HTTP (a laptop, an
 * internal address) would otherwise have its own assets upgraded to HTTPS and fail to load.
 */
export const CONTENT_SECURITY_POLICY: Readonly<Record<string, readonly string[] | null>> =
  Object.freeze({
    'default-src': ["'self'"],
    'base-uri': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'frame-ancestors': ["'none'"],
    'form-action': ["'self'"],
    'script-src-attr': ["'none'"],
    'upgrade-insecure-requests': null,
  });

/**
 * Registers `@fastify/helmet` on `app` (the root instance, before the route plugins): every
 * answer carries {@link CONTENT_SECURITY_POLICY}, `X-Content-Type-Options: nosniff`,
 * `X-Frame-Options: SAMEORIGIN`, `Referrer-Policy: no-referrer`, `Strict-Transport-Security`
 * (honoured by browsers over HTTPS only), the cross-origin opener/resource policies and the rest
 * of helmet's defaults, and no `X-Powered-By`. Answers refused by the authentication hook (401,
 * 403) are sent before helmet's hook runs and carry none of them: they are JSON, never rendered.
 *
 * @example
 * installSecurityHeaders(app);
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  void app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { ...CONTENT_SECURITY_POLICY } as Record<string, string[] | null>,
    },
  });
}
