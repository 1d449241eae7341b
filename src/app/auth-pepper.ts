import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DataError } from '../core/errors.js';
import type { KibanConfig } from './config.js';

/**
 * The server secret API key hashes are made with (`src/auth/api-keys.ts`): `auth.pepper`
 * (`KIBAN_AUTH_PEPPER`) when given, else the contents of `auth.pepperFile`
 * (`.kiban/auth-pepper`), which is generated once (32 random bytes in hex, mode 0600) when it
 * is missing. Every server and `kiban keys` sharing a metadata store must use the same pepper:
 * on several hosts, set `KIBAN_AUTH_PEPPER`. The value is never logged; errors name only the file.
 * @throws DataError naming the file when it cannot be read or written, or is empty
 *
 * @example
 * const pepper = await loadAuthPepper(config);
 */
export async function loadAuthPepper(config: Pick<KibanConfig, 'auth'>): Promise<string> {
  if (config.auth.pepper !== undefined) return config.auth.pepper;
  const file = config.auth.pepperFile;
  const existing = await readPepper(file);
  if (existing !== null) return existing;
  await mkdir(dirname(file), { recursive: true });
  const pepper = randomBytes(32).toString('hex');
  // Written whole under a private name, then linked into place: link() fails if the file exists,
  // so two processes starting at once agree on one pepper, and no reader sees a partial file.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temporary, `${pepper}\n`, { flag: 'wx', mode: 0o600 });
    await chmod(temporary, 0o600);
    await link(temporary, file);
    return pepper;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') {
      const written = await readPepper(file);
      if (written !== null) return written;
    }
    throw new DataError({ file }, 'cannot write the auth pepper file', { cause: error });
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function readPepper(file: string): Promise<string | null> {
  const info = await stat(file).catch(() => null);
  if (info === null) return null;
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new DataError({ file }, 'cannot read the auth pepper file', { cause });
  });
  const pepper = text.trim();
  if (pepper.length < 16)
    throw new DataError({ file }, 'the auth pepper file holds fewer than 16 characters');
  return pepper;
}
