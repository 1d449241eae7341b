import { ApiKeyAuthenticator } from '../auth/api-key-authenticator.js';
import type { Authenticator } from '../auth/principal.js';
import type { Logger } from '../core/log.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { loadAuthPepper } from './auth-pepper.js';
import type { KibanConfig } from './config.js';

/** What {@link buildAuthenticators} builds over. */
export interface AuthenticatorBackends {
  /** Holds the API keys (`metadata.apiKeys`). */
  metadata: Pick<MetadataStore, 'apiKeys'>;
  /** Where a failure to record a key's last use is logged. */
  logger?: Logger;
}

/**
 * The ways in the serving app asks, in order, from the configuration: API keys
 * (`Authorization: Bearer kbn_…` or `X-API-Key`, over `metadata.apiKeys` with the pepper of
 * {@link loadAuthPepper}), then the others `auth` configures (OIDC bearer JWTs, the dashboard
 * session, a trusted proxy: added here as they are built). API keys go first: a bearer token
 * that is not a kiban key is passed on to the next.
 *
 * @example
 * const authenticators = await buildAuthenticators(config, { metadata: backends.metadata });
 * createServingApp({ serving, auth: { mode: 'required', authenticators } });
 */
export async function buildAuthenticators(
  config: Pick<KibanConfig, 'auth'>,
  backends: AuthenticatorBackends,
): Promise<Authenticator[]> {
  const pepper = await loadAuthPepper(config);
  const { logger } = backends;
  const authenticators: Authenticator[] = [
    new ApiKeyAuthenticator({
      store: backends.metadata.apiKeys,
      pepper,
      cacheTtlMs: config.auth.keyCacheTtlMs,
      ...(logger === undefined
        ? {}
        : { onTouchError: (err: unknown) => logger.warn({ err }, 'cannot record an API key use') }),
    }),
  ];
  // OIDC / JWT (auth.oidc), the session cookie and the trusted proxy (auth.proxy) are built by
  // buildOidcAuth (auth/oidc-auth.ts): the serve role appends them, and mounts their login.
  return authenticators;
}
