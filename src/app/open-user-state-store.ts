import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import type { UserStateStore, UserStateStoreOptions } from '../storage/user-state-store.js';

/**
 * Where the user state of a `sqlite:PATH` serving store lives: a file beside it, its name with
 * `.user-state` before the extension (`serving.db` → `serving.user-state.db`).
 */
export function userStateSqlitePath(servingPath: string): string {
  const ext = extname(servingPath);
  const stem = basename(servingPath, ext);
  return join(dirname(servingPath), `${stem}.user-state${ext === '' ? '.db' : ext}`);
}

/**
 * Opens the user state store that goes with a service's serving store URL, in the same namespace:
 * - `memory:` (and `sqlite::memory:`): a fresh store in this process;
 * - `sqlite:PATH`: the file {@link userStateSqlitePath} names, beside the serving DB;
 * - `redis://…[?prefix=P]`: the same Redis, under the serving store's prefix (default `kiban:`).
 *
 * @throws InvalidArgumentError naming `field` for another scheme, a `sqlite:` naming no file or
 *   an unknown URL option.
 */
export async function openUserStateStore(
  servingUrl: string,
  options: UserStateStoreOptions = {},
  field = 'stores.serving',
): Promise<UserStateStore> {
  if (servingUrl === 'memory:' || servingUrl === 'sqlite::memory:') {
    const { MemoryUserStateStore } = await import('../storage/memory-user-state-store.js');
    return new MemoryUserStateStore(options);
  }
  if (servingUrl.startsWith('sqlite:')) {
    const path = servingUrl.slice('sqlite:'.length);
    if (path === '')
      throw new InvalidArgumentError(field, `"${servingUrl}" names no file; use sqlite:PATH`);
    const target = userStateSqlitePath(path);
    await mkdir(dirname(target), { recursive: true });
    const { SqliteUserStateStore } = await import('../storage/sqlite-user-state-store.js');
    return new SqliteUserStateStore(target, options);
  }
  if (servingUrl.startsWith('redis://') || servingUrl.startsWith('rediss://')) {
    const at = servingUrl.indexOf('?');
    const base = at < 0 ? servingUrl : servingUrl.slice(0, at);
    let prefix: string | undefined;
    for (const [key, value] of new URLSearchParams(at < 0 ? '' : servingUrl.slice(at + 1))) {
      if (key !== 'prefix')
        throw new InvalidArgumentError(field, `unknown URL option "${key}"; known: prefix`);
      prefix = value;
    }
    const { RedisUserStateStore } = await import('../storage/redis-user-state-store.js');
    return new RedisUserStateStore(base, {
      ...options,
      ...(prefix === undefined ? {} : { prefix }),
    });
  }
  throw new InvalidArgumentError(
    field,
    `"${servingUrl}" has no user state store; use memory:, sqlite:PATH or redis://HOST:PORT`,
  );
}
