import type { z } from 'zod';
import { JwtAuthenticator } from './jwt-authenticator.js';
import { OidcConfigSchema, ProxyConfigSchema } from './oidc-config.js';
import { OidcLogin } from './oidc-login.js';
import type { Authenticator } from './principal.js';
import { ProxyAuthenticator } from './proxy-authenticator.js';
import { SessionAuthenticator } from './session-authenticator.js';
import { Sealer } from './session-seal.js';

/** `auth.oidc` and `auth.proxy` as written in the configuration (each optional). */
export interface OidcAuthConfig {
  oidc?: z.input<typeof OidcConfigSchema> | undefined;
  proxy?: z.input<typeof ProxyConfigSchema> | undefined;
}

/** What {@link buildOidcAuth} makes. */
export interface OidcAuth {
  /**
   * The ways in, to append to the app's list (after API keys): bearer JWTs (`auth.oidc`), the
   * trusted proxy (`auth.proxy`), and the dashboard session (`auth.oidc.clientId`).
   */
  authenticators: Authenticator[];
  /**
   * The developer login for the serving app's auth routes (`createServingApp`'s `login`), when
   * `auth.oidc.clientId` is set.
   */
  login?: { login: OidcLogin; sessions: SessionAuthenticator; secureCookies?: boolean };
  /** Things an operator should be told (e.g. sessions that will not survive a restart). */
  warnings: string[];
}

/**
 * The OIDC, session and trusted-proxy ways in from `auth.oidc` and `auth.proxy` (parsed here:
 * defaults apply, a bad key throws zod's error naming it). Nothing is fetched until the first
 * request: the issuer's discovery document and keys are read lazily.
 *
 * @example
 * const { authenticators, login } = buildOidcAuth({ oidc: config.auth.oidc, proxy: config.auth.proxy });
 * createServingApp({ serving, auth: { mode: 'required', authenticators: [...apiKeys, ...authenticators] }, ...(login ? { login } : {}) });
 */
export function buildOidcAuth(config: OidcAuthConfig): OidcAuth {
  const authenticators: Authenticator[] = [];
  const warnings: string[] = [];
  let login: OidcAuth['login'];
  if (config.oidc !== undefined) {
    const oidc = OidcConfigSchema.parse(config.oidc);
    authenticators.push(new JwtAuthenticator(oidc));
    if (oidc.clientId !== undefined) {
      if (oidc.sessionSecret === undefined)
        warnings.push(
          'auth.oidc.sessionSecret is not set: dashboard sessions are sealed with a random key of this process, so they end when it restarts and other serve processes refuse them',
        );
      const sealer = new Sealer(oidc.sessionSecret);
      const sessions = new SessionAuthenticator({
        sealer,
        rules: oidc.rules,
        groupsClaim: oidc.groupsClaim,
        ttlSec: oidc.sessionTtlSec,
      });
      authenticators.push(sessions);
      login = {
        login: new OidcLogin(oidc, { sealer }),
        sessions,
        ...(oidc.secureCookies === undefined ? {} : { secureCookies: oidc.secureCookies }),
      };
    }
  }
  if (config.proxy !== undefined)
    authenticators.push(new ProxyAuthenticator(ProxyConfigSchema.parse(config.proxy)));
  return { authenticators, ...(login === undefined ? {} : { login }), warnings };
}
