/**
 * Pseudonyms: identifiers replaced by a keyed HMAC-SHA-256, so that a recipient can join its
 * extracts on them but cannot recover the identifiers, and two recipients cannot join theirs.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../core/errors.js';

/** The smallest key accepted, in bytes (HMAC-SHA-256's block-size guidance: at least the output size). */
export const MIN_PSEUDONYM_KEY_BYTES = 32;

/** A new random key, base64url: what to store as the recipient's secret. */
export function generatePseudonymKey(): string {
  return randomBytes(MIN_PSEUDONYM_KEY_BYTES).toString('base64url');
}

/**
 * Reads a key from `env:NAME` (an environment variable) or `file:PATH` (a mounted secret, one
 * line), as base64, base64url or hex of at least {@link MIN_PSEUDONYM_KEY_BYTES} bytes. Errors
 * name the reference, never the key.
 * @throws InvalidArgumentError naming `pseudonyms.key`.
 */
export async function readPseudonymKey(
  ref: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Buffer> {
  let text: string | undefined;
  if (ref.startsWith('env:')) {
    text = env[ref.slice(4)];
    if (text === undefined || text.trim() === '')
      throw new InvalidArgumentError(
        'pseudonyms.key',
        `the environment variable ${ref.slice(4)} is not set (make one with \`kiban export keygen\`)`,
      );
  } else if (ref.startsWith('file:')) {
    text = await readFile(ref.slice(5), 'utf8').catch((cause: unknown) => {
      throw new InvalidArgumentError('pseudonyms.key', `cannot read ${ref.slice(5)}`, { cause });
    });
  } else throw new InvalidArgumentError('pseudonyms.key', 'must be env:NAME or file:PATH');
  const trimmed = text.trim();
  const key =
    /^[0-9a-f]+$/i.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(
          trimmed.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, ''),
          'base64url',
        );
  if (key.length < MIN_PSEUDONYM_KEY_BYTES)
    throw new InvalidArgumentError(
      'pseudonyms.key',
      `the key in ${ref} is ${key.length} bytes; at least ${MIN_PSEUDONYM_KEY_BYTES} are needed (make one with \`kiban export keygen\`)`,
    );
  return key;
}

/**
 * A short public fingerprint of a key (16 hex digits of an HMAC of a fixed label): written in the
 * sidecar so a recipient sees when the key was rotated (pseudonyms change), without revealing it.
 */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key)
    .update('kiban pseudonym key fingerprint')
    .digest('hex')
    .slice(0, 16);
}

/**
 * Maps identifiers to pseudonyms for one recipient: base64url of the first 16 bytes (128 bits) of
 * HMAC-SHA-256(key, recipient ‖ 0 ‖ value). Deterministic for a key and recipient, so the same
 * identifier gets the same pseudonym in every extract to that recipient until the key rotates.
 *
 * @example
 * const p = new Pseudonymiser(await readPseudonymKey('env:KIBAN_EXPORT_KEY'), 'ads-research');
 * p.pseudonym('user-42'); // 'q2V0…' (22 characters)
 */
export class Pseudonymiser {
  readonly #key: Buffer;
  readonly #prefix: Buffer;

  constructor(key: Buffer, recipient: string) {
    this.#key = key;
    this.#prefix = Buffer.from(`${recipient}\u0000`, 'utf8');
  }

  /** The pseudonym of `value` (22 base64url characters). */
  pseudonym(value: string): string {
    return createHmac('sha256', this.#key)
      .update(this.#prefix)
      .update(value, 'utf8')
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }
}
