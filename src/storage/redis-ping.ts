import type { Redis } from 'ioredis';

/**
 * Whether `redis` answers PING within `timeoutMs` (false on an error or a timeout, never throws):
 * what readiness checks of the Redis-backed stores report.
 */
export async function redisAnswers(
  redis: Pick<Redis, 'ping'>,
  timeoutMs: number,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      redis.ping().then(
        (reply) => reply === 'PONG',
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes `redis` after its pending replies (QUIT), or drops the connection if that fails: how
 * the Redis-backed stores close. Never throws.
 */
export async function quitRedis(redis: Pick<Redis, 'quit' | 'disconnect'>): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
