/**
 * Reading and writing the cookies of the dashboard's login: kiban does not parse cookies for
 * every request (no cookie plugin), so the session authenticator reads the `Cookie` header itself.
 *
 * @module
 */

/** The sealed session (HttpOnly). */
export const SESSION_COOKIE = 'kiban_session';
/** The CSRF token the dashboard's script reads and echoes in {@link CSRF_HEADER} (not HttpOnly). */
export const CSRF_COOKIE = 'kiban_csrf';
/** The sealed login transaction (state, nonce, PKCE verifier) between `/auth/login` and `/auth/callback`. */
export const LOGIN_COOKIE = 'kiban_login';
/** The header a cookie-authenticated write must carry, equal to the {@link CSRF_COOKIE} cookie. */
export const CSRF_HEADER = 'x-csrf-token';

/**
 * The cookies of a `Cookie` header (`a=1; b=2`), by name; the first of a repeated name wins,
 * values are percent-decoded where they decode and unquoted.
 */
export function parseCookies(header: string | string[] | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '');
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || Object.hasOwn(cookies, name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded: kept as sent.
    }
    cookies[name] = value;
  }
  return cookies;
}

/** Attributes of {@link serializeCookie}. */
export interface CookieAttributes {
  /** Seconds until it expires; 0 deletes it. @defaultValue a browser-session cookie */
  maxAge?: number;
  /** @defaultValue '/' */
  path?: string;
  httpOnly: boolean;
  /** Sent only over HTTPS. */
  secure: boolean;
  /** @defaultValue 'Lax' */
  sameSite?: 'Lax' | 'Strict';
}

/** One `Set-Cookie` value. `value` must be cookie-safe (kiban's are base64url). */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  const parts = [`${name}=${value}`, `Path=${attributes.path ?? '/'}`];
  if (attributes.maxAge !== undefined) parts.push(`Max-Age=${Math.floor(attributes.maxAge)}`);
  if (attributes.httpOnly) parts.push('HttpOnly');
  if (attributes.secure) parts.push('Secure');
  parts.push(`SameSite=${attributes.sameSite ?? 'Lax'}`);
  return parts.join('; ');
}
