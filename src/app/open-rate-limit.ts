import type { Logger } from '../core/log.js';
import type { RateLimitOptions } from '../serving/rate-limit-plugin.js';
import type { KibanConfig } from './config.js';

/** How long the serve role waits for the rate limit's Redis at start before going on without it. */
const REDIS_READY_TIMEOUT_MS = 5000;

/** The serving app's rate limit as `auth.rateLimit` configures it, and what closes its Redis client. */
export interface OpenedRateLimit {
  options: RateLimitOptions;
  close(): Promise<void>;
}

/**
 * `auth.rateLimit` as the serving app's {@link RateLimitOptions}, or null when it is unset (no
 * limit). With `auth.rateLimit.redis`, opens an ioredis client (loaded only then) whose counts
 * every server sharing that Redis shares. The client does not queue commands while Redis is
 * unreachable, so a request then passes unlimited at once rather than waiting (at start it waits
 * up to 5 s for the first connection); connection errors are logged through `logger` as warnings (without the URL, which may hold a password).
 */
export async function openRateLimit(
  config: Pick<KibanConfig, 'auth'>,
  logger: Logger,
): Promise<OpenedRateLimit | null> {
  const settings = config.auth.rateLimit;
  if (settings === undefined) return null;
  const options: RateLimitOptions = { max: settings.max, timeWindowMs: settings.timeWindowMs };
  if (settings.redis === undefined) return { options, close: async () => {} };
  const { Redis } = await import('ioredis');
  const redis = new Redis(settings.redis, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (error: Error) =>
    logger.warn({ err: error }, 'rate limit: Redis is unreachable; requests pass unlimited'),
  );
  // Commands are not queued while connecting, so wait (briefly) for the first connection: without
  // it the first requests would all pass unlimited.
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REDIS_READY_TIMEOUT_MS);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready)
    logger.warn(
      { waitedMs: REDIS_READY_TIMEOUT_MS },
      'rate limit: Redis is not reachable yet; requests pass unlimited until it is',
    );
  return {
    options: { ...options, redis },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
