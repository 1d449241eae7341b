import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import type { BanditStore } from '../storage/bandit-store.js';
import { MemoryBanditStore } from '../storage/memory-bandit-store.js';
import { RedisBanditStore } from '../storage/redis-bandit-store.js';
import { SqliteBanditStore } from '../storage/sqlite-bandit-store.js';

/**
 * Opens the bandit store that sits beside the serving store a URL names (bandit state is serving
 * state): `memory:` (this process only), `sqlite:PATH` (tables `bandit_*` in the same file; the
 * processes of one machine share it) or `redis://HOST:PORT[/DB][?prefix=P]` (keys under `P`,
 * default `kiban:`; every process using the URL shares it).
 */
export async function openBanditStore(url: string, field = 'stores.serving'): Promise<BanditStore> {
  if (url === 'memory:') return new MemoryBanditStore();
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new InvalidArgumentError(field, `"${url}" names no file; use sqlite:PATH or sqlite::memory:`);
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    return new SqliteBanditStore(path);
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const at = url.indexOf('?');
    if (at < 0) return new RedisBanditStore(url);
    let prefix: string | undefined;
    for (const [key, value] of new URLSearchParams(url.slice(at + 1))) {
      if (key !== 'prefix') throw new InvalidArgumentError(field, `unknown URL option "${key}"; known: prefix`);
      prefix = value;
    }
    return new RedisBanditStore(url.slice(0, at), prefix === undefined ? {} : { prefix });
  }
  throw new InvalidArgumentError(field, `"${url}" is not a serving store URL; use memory:, sqlite:PATH or redis://HOST:PORT`);
}
