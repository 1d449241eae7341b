/**
 * Configuration of the JWT ways in (issue 17): bearer JWTs from an OIDC issuer with the
 * dashboard's login ({@link OidcConfigSchema}, `auth.oidc`) and a trusted proxy's signed identity
 * assertion ({@link ProxyConfigSchema}, `auth.proxy`). Both map claims to scopes with the same
 * {@link ScopeRuleSchema rules}.
 *
 * @module
 */
import { z } from 'zod';
import { isScope, SCOPES, type Scope } from './principal.js';

/** JWS algorithms an issuer may sign with (symmetric ones are never accepted). */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/** One of {@link JWT_ALGORITHMS}. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/**
 * One claims → scopes rule: a token matching it gets its `scopes`; a token gets the union of the
 * scopes of every rule it matches (none: a principal without scopes, so routes answer 403). Give
 * exactly one condition:
 * - `emailDomain: 'example.com'`: the `email` claim ends in `@example.com` (case-insensitive) and
 *   `email_verified` is not `false`;
 * - `group: 'ml-team'`: the groups claim ({@link OidcConfigSchema} `groupsClaim`) is, or contains,
 *   that string;
 * - `claim: 'azp', equals: 'svc-x'`: that claim is, or contains, that string.
 */
export const ScopeRuleSchema = z
  .object({
    emailDomain: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    claim: z.string().min(1).optional(),
    equals: z.string().optional(),
    scopes: z
      .array(
        z.string().refine(isScope, {
          error: (issue) =>
            `unknown scope ${JSON.stringify(issue.input)} (known: ${SCOPES.join(', ')}, and service:NAME or service:*)`,
        }),
      )
      .min(1)
      .transform((scopes) => scopes as Scope[]),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const conditions = [rule.emailDomain, rule.group, rule.claim].filter((c) => c !== undefined);
    if (conditions.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: 'give exactly one of emailDomain, group or claim (with equals)',
      });
    if ((rule.claim === undefined) !== (rule.equals === undefined))
      ctx.addIssue({ code: 'custom', message: 'claim and equals go together' });
  });

/** One {@link ScopeRuleSchema} rule. */
export type ScopeRule = z.infer<typeof ScopeRuleSchema>;

/** Defaults of {@link OidcConfigSchema}'s optional keys. */
export const OIDC_DEFAULTS = Object.freeze({
  algorithms: ['RS256', 'ES256'] as JwtAlgorithm[],
  clockToleranceSec: 60,
  groupsClaim: 'groups',
  loginScope: 'openid email profile',
  sessionTtlSec: 8 * 3600,
});

/**
 * `auth.oidc`: bearer JWTs from this issuer, and (with `clientId`) the dashboard's developer
 * login.
 * - `issuer`: the issuer URL; its `/.well-known/openid-configuration` names the JWKS (unless
 *   `jwksUri` is given) and the login endpoints. Tokens must carry exactly this `iss`.
 * - `audience`: the `aud` a token must carry (one of them, when a list).
 * - `algorithms`: accepted signing algorithms. @defaultValue `['RS256', 'ES256']`
 * - `clockToleranceSec`: skew allowed on `exp`/`nbf`/`iat`, at most 300. @defaultValue 60
 * - `groupsClaim`: the claim listing groups. @defaultValue `'groups'`
 * - `rules`: claims → scopes ({@link ScopeRuleSchema}).
 * - `clientId`, `clientSecret`: the dashboard's client at the issuer (authorization code + PKCE;
 *   no secret for a public client). Without `clientId` there is no login.
 * - `redirectUri`: the login callback registered at the issuer. @defaultValue `<the request's
 *   origin>/auth/callback`
 * - `loginScope`: scopes asked at login. @defaultValue `'openid email profile'`
 * - `sessionSecret`: at least 32 characters; keys the session cookie (sealed with AES-256-GCM).
 *   Every serve process must share it. @defaultValue a random one per process (sessions end on
 *   restart)
 * - `sessionTtlSec`: how long a login lasts. @defaultValue 28800 (8 h)
 * - `secureCookies`: whether the login's cookies are `Secure` (sent over HTTPS only); set it to
 *   `true` behind a proxy that terminates TLS. @defaultValue whether the request came over HTTPS
 */
export const OidcConfigSchema = z
  .object({
    issuer: z.url(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwksUri: z.url().optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(OIDC_DEFAULTS.algorithms),
    clockToleranceSec: z.number().int().min(0).max(300).default(OIDC_DEFAULTS.clockToleranceSec),
    groupsClaim: z.string().min(1).default(OIDC_DEFAULTS.groupsClaim),
    rules: z.array(ScopeRuleSchema).default([]),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    redirectUri: z.url().optional(),
    loginScope: z.string().min(1).default(OIDC_DEFAULTS.loginScope),
    sessionSecret: z.string().min(32).optional(),
    sessionTtlSec: z.number().int().min(60).default(OIDC_DEFAULTS.sessionTtlSec),
    secureCookies: z.boolean().optional(),
  })
  .strict();

/** `auth.oidc` as parsed (defaults filled in). */
export type OidcConfig = z.infer<typeof OidcConfigSchema>;

/** IAP's assertion header, the default of {@link ProxyConfigSchema}'s `header`. */
export const IAP_ASSERTION_HEADER = 'x-goog-iap-jwt-assertion';

/**
 * `auth.proxy`: a trusted reverse proxy's signed identity assertion (IAP-style). The header is
 * read only from a peer inside `trustedCidrs`, and only when the assertion verifies.
 * - `header`: the header carrying the JWT. @defaultValue `'x-goog-iap-jwt-assertion'`
 * - `trustedCidrs`: the proxy's addresses (`10.0.0.0/8`, `::1/128`, a bare address).
 * - `issuer`, `audience`: the `iss` and `aud` the assertion must carry.
 * - `jwksUri` or `publicKeyPem` (exactly one): the proxy's signing keys.
 * - `algorithms`, `clockToleranceSec`, `groupsClaim`, `rules`: as in {@link OidcConfigSchema}
 *   (algorithms default to `['ES256', 'RS256']`).
 */
export const ProxyConfigSchema = z
  .object({
    header: z
      .string()
      .min(1)
      .transform((h) => h.toLowerCase())
      .default(IAP_ASSERTION_HEADER),
    trustedCidrs: z.array(z.string().min(1)).min(1),
    issuer: z.string().min(1),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwksUri: z.url().optional(),
    publicKeyPem: z.string().min(1).optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['ES256', 'RS256']),
    clockToleranceSec: z.number().int().min(0).max(300).default(OIDC_DEFAULTS.clockToleranceSec),
    groupsClaim: z.string().min(1).default(OIDC_DEFAULTS.groupsClaim),
    rules: z.array(ScopeRuleSchema).default([]),
  })
  .strict()
  .refine((c) => (c.jwksUri === undefined) !== (c.publicKeyPem === undefined), {
    message: 'give exactly one of jwksUri or publicKeyPem',
  });

/** `auth.proxy` as parsed (defaults filled in). */
export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;
