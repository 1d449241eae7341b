import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** What a sealed value is for: bound into the seal, so a value sealed for one cannot be used as the other. */
export type SealPurpose = 'session' | 'login';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals small JSON values into opaque cookie-safe strings with AES-256-GCM (encrypted and
 * authenticated: a client can neither read nor change them) and an expiry inside the seal. The key
 * is derived (HKDF-SHA-256) from a secret every serve process shares; without one a random key is
 * made, so seals do not outlive the process.
 *
 * @example
 * const sealer = new Sealer(process.env.SESSION_SECRET);
 * const cookie = sealer.seal('session', { sub: 'u1' }, 3600);
 * sealer.unseal('session', cookie); // { sub: 'u1' }, until it expires
 */
export class Sealer {
  readonly #key: Buffer;
  readonly #now: () => number;

  /**
   * @param secret at least 32 characters; undefined: a random key for this process.
   * @param now the clock in ms, for tests. @defaultValue Date.now
   */
  constructor(secret: string | undefined, now: () => number = Date.now) {
    const material = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
    this.#key = Buffer.from(hkdfSync('sha256', material, 'kiban-session-seal', 'aes-256-gcm', 32));
    this.#now = now;
  }

  /** `payload` sealed for `purpose`, valid for `ttlSec` seconds, as a base64url string. */
  seal(purpose: SealPurpose, payload: object, ttlSec: number): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const plain = Buffer.from(JSON.stringify({ p: payload, e: this.#now() + ttlSec * 1000 }));
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return sealed.toString('base64url');
  }

  /** The payload of a value {@link seal}ed for `purpose`; null when it is forged, altered, for another purpose or expired. */
  unseal<T>(purpose: SealPurpose, value: string): T | null {
    const sealed = Buffer.from(value, 'base64url');
    if (sealed.length < IV_BYTES + TAG_BYTES + 1) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      const { p, e } = JSON.parse(plain.toString('utf8')) as { p: T; e: number };
      return typeof e === 'number' && e > this.#now() ? p : null;
    } catch {
      return null;
    }
  }
}
