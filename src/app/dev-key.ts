import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createApiKey, parseApiKey, verifyApiKeySecret } from '../auth/api-keys.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { loadAuthPepper } from './auth-pepper.js';
import type { KibanConfig } from './config.js';

/** The name `kiban demo`'s key goes by in `kiban keys list`. */
export const DEV_KEY_NAME = 'kiban-demo';

/**
 * The API key `kiban demo` prints: an `admin` key named {@link DEV_KEY_NAME}, kept (it is a
 * development key on a laptop's embedded stores) in `.kiban/dev-key` beside the pepper file,
 * mode 0600, so that every demo run prints the same key. A key there that the metadata store no
 * longer accepts (revoked, expired, another pepper or store) is replaced by a new one.
 *
 * @example
 * const key = await ensureDevKey(config, backends.metadata);
 */
export async function ensureDevKey(
  config: Pick<KibanConfig, 'auth'>,
  metadata: Pick<MetadataStore, 'apiKeys'>,
): Promise<string> {
  const pepper = await loadAuthPepper(config);
  const file = `${dirname(config.auth.pepperFile)}/dev-key`;
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  const parsed = parseApiKey(kept);
  if (parsed !== null) {
    const record = await metadata.apiKeys.getByPrefix(parsed.prefix);
    if (
      record !== null &&
      record.revokedAt === null &&
      (record.expiresAt === null || record.expiresAt.getTime() > Date.now()) &&
      verifyApiKeySecret(pepper, parsed.secret, record.hash)
    )
      return kept;
  }
  const { key } = await createApiKey(metadata.apiKeys, pepper, {
    name: DEV_KEY_NAME,
    scopes: ['admin'],
    createdBy: 'kiban demo',
  });
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}`;
  await writeFile(temporary, `${key}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  return key;
}
