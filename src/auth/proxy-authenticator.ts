import { BlockList, isIP } from 'node:net';
import type { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import { principalFromClaims } from './jwt-claims.js';
import { JwtVerifier } from './jwt-verifier.js';
import { ProxyConfigSchema, type ProxyConfig } from './oidc-config.js';
import type { AuthRequest, Authenticator, Principal } from './principal.js';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) as `10.0.0.1`. */
function plainAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped?.[1] ?? ip;
}

/**
 * The addresses of `cidrs` (`10.0.0.0/8`, `fd00::/8`, or a bare address) as a `BlockList`.
 * Throws `InvalidArgumentError` naming `auth.proxy.trustedCidrs[i]` for one that is not.
 */
export function trustedAddresses(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  cidrs.forEach((cidr, index) => {
    const field = `auth.proxy.trustedCidrs[${index}]`;
    const [address = '', bits, ...rest] = cidr.trim().split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0)
      throw new InvalidArgumentError(field, `${JSON.stringify(cidr)} is not an address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(address, type);
      return;
    }
    const prefix = Number(bits);
    if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128))
      throw new InvalidArgumentError(field, `${JSON.stringify(cidr)} has a bad prefix length`);
    list.addSubnet(address, prefix, type);
  });
  return list;
}

/** Options of {@link ProxyAuthenticator} beyond `auth.proxy`. */
export interface ProxyAuthenticatorExtras {
  /** Least time between JWKS refetches on an unknown `kid`. @defaultValue 30000 */
  jwksCooldownMs?: number;
  /** The clock. @defaultValue `() => new Date()` */
  now?: () => Date;
}

/**
 * The `proxy` way in: a trusted reverse proxy's signed identity assertion (IAP's
 * `X-Goog-IAP-JWT-Assertion`, or the configured header). The header counts only when the
 * connection's peer address (never a forwarded header) is in `trustedCidrs`; from anywhere else it
 * is ignored (`null`, as if absent), so a client cannot claim an identity by sending it. From a
 * trusted peer the assertion must verify (signature with the JWKS or the static public key,
 * `iss`, `aud`, `exp`, `nbf`), else a 401 naming the reason. Claims map to scopes by `rules`, as
 * for bearer JWTs; the principal is a developer when the assertion has an `email`.
 *
 * @example
 * const proxy = buildProxyAuthenticator({ trustedCidrs: ['35.191.0.0/16', '130.211.0.0/22'], issuer: 'https://cloud.google.com/iap', audience: '/projects/1/global/backendServices/2', jwksUri: 'https://www.gstatic.com/iap/verify/public_key-jwk', rules: [{ emailDomain: 'example.com', scopes: ['recs:read'] }] });
 */
export class ProxyAuthenticator implements Authenticator {
  readonly name = 'proxy';
  readonly #config: ProxyConfig;
  readonly #trusted: BlockList;
  readonly #verifier: JwtVerifier;

  constructor(config: ProxyConfig, extras: ProxyAuthenticatorExtras = {}) {
    this.#config = config;
    this.#trusted = trustedAddresses(config.trustedCidrs);
    this.#verifier = new JwtVerifier({
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      keys:
        config.publicKeyPem !== undefined
          ? { publicKeyPem: config.publicKeyPem }
          : { jwksUri: config.jwksUri ?? '' },
      clockToleranceSec: config.clockToleranceSec,
      label: `${config.header} header`,
      ...extras,
    });
  }

  /** Whether `ip` is one of the configured proxy addresses. */
  isTrusted(ip: string): boolean {
    const address = plainAddress(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.#trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const header = request.headers[this.#config.header];
    const assertion = Array.isArray(header) ? header[0] : header;
    if (assertion === undefined || assertion === '' || !this.isTrusted(request.ip)) return null;
    const claims = await this.#verifier.verify(assertion.trim());
    return principalFromClaims(claims, {
      rules: this.#config.rules,
      groupsClaim: this.#config.groupsClaim,
      method: 'proxy',
    });
  }
}

/**
 * A {@link ProxyAuthenticator} from `auth.proxy` as written in the configuration (parsed with
 * {@link ProxyConfigSchema}: defaults apply, a bad key throws zod's error naming it).
 */
export function buildProxyAuthenticator(
  options: z.input<typeof ProxyConfigSchema>,
  extras: ProxyAuthenticatorExtras = {},
): ProxyAuthenticator {
  return new ProxyAuthenticator(ProxyConfigSchema.parse(options), extras);
}
