/**
 * Opening an {@link OnlineFeatureStore} by URL, and the one kiban's configuration implies.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import type { OnlineFeatureStore } from '../features/online-store.js';
import type { KibanConfig } from './config.js';

/**
 * Opens the online feature store a URL names: `memory:` (this process only), `sqlite:PATH`
 * (embedded; the directory is created) or `redis://HOST:PORT[/DB][?prefix=P]` (keys under `P`,
 * default `kiban:`). The store's module and driver are loaded only when used.
 *
 * @throws InvalidArgumentError naming `field` when no scheme takes the URL or an option is unknown.
 */
export async function openOnlineFeatureStore(
  url: string,
  field = '--online',
): Promise<OnlineFeatureStore> {
  if (url === 'memory:')
    return new (
      await import('../storage/memory-online-feature-store.js')
    ).MemoryOnlineFeatureStore();
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0)
      throw new InvalidArgumentError(field, `"${url}" names no file; use sqlite:PATH`);
    if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
    return new (await import('../storage/sqlite-online-feature-store.js')).SqliteOnlineFeatureStore(
      path,
    );
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const at = url.indexOf('?');
    const base = at < 0 ? url : url.slice(0, at);
    let prefix: string | undefined;
    for (const [key, value] of new URLSearchParams(at < 0 ? '' : url.slice(at + 1))) {
      if (key !== 'prefix')
        throw new InvalidArgumentError(field, `unknown URL option "${key}"; known: prefix`);
      prefix = value;
    }
    return new (await import('../storage/redis-online-feature-store.js')).RedisOnlineFeatureStore(
      base,
      prefix === undefined ? {} : { prefix },
    );
  }
  throw new InvalidArgumentError(
    field,
    `"${url}" is not an online feature store URL; use memory:, sqlite:PATH or redis://HOST:PORT[?prefix=P]`,
  );
}

/**
 * The online store URL that goes with a serving store URL (`stores.serving`), when none is
 * given: beside a `sqlite:DIR/serving.db` the file `sqlite:DIR/features.db`; on the same Redis
 * as `redis://…[?prefix=P]` the prefix `P-features:` (default `kiban-features:`), apart from the
 * serving store's keys (its `clear()` removes everything under `P`); `memory:` for `memory:`.
 */
export function onlineStoreUrlFor(servingUrl: string): string {
  if (servingUrl === 'memory:') return 'memory:';
  if (servingUrl.startsWith('sqlite:')) {
    const path = servingUrl.slice('sqlite:'.length);
    return path === ':memory:' || path === ''
      ? 'memory:'
      : `sqlite:${join(dirname(path), 'features.db')}`;
  }
  if (servingUrl.startsWith('redis://') || servingUrl.startsWith('rediss://')) {
    const at = servingUrl.indexOf('?');
    const base = at < 0 ? servingUrl : servingUrl.slice(0, at);
    const prefix =
      new URLSearchParams(at < 0 ? '' : servingUrl.slice(at + 1)).get('prefix') ?? 'kiban:';
    const stem = prefix.endsWith(':') ? prefix.slice(0, -1) : prefix;
    return `${base}?prefix=${encodeURIComponent(`${stem}-features:`)}`;
  }
  return 'sqlite:.kiban/features.db';
}

/**
 * The online store a configuration names, as `kiban serve` opens it: `features.online`, else
 * the one that goes with `stores.serving` ({@link onlineStoreUrlFor}).
 */
export function configuredOnlineStoreUrl(config: Pick<KibanConfig, 'features' | 'stores'>): string {
  return config.features.online ?? onlineStoreUrlFor(config.stores.serving);
}
