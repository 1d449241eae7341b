/**
 * Rate limits per principal for the serving app (issue 17.5), with `@fastify/rate-limit`.
 *
 * @module
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { InvalidArgumentError, RateLimitedError } from '../core/errors.js';

/** Options of {@link installRateLimit}. */
export interface RateLimitOptions {
  /** Requests one caller may send per window. */
  max: number;
  /** The window's length in milliseconds; a caller's count starts with its first request. */
  timeWindowMs: number;
  /**
   * A Redis client (ioredis) holding the counts, so that every server sharing it shares each
   * caller's count; the app does not close it. @defaultValue none: counts in this process's memory
   */
  redis?: Redis;
  /** Prefix of the Redis keys. @defaultValue `kiban:rate-limit:` */
  redisPrefix?: string;
}

/**
 * The caller a request counts against: its principal's id (`p:ID`, so one key's requests are
 * counted together whichever address they come from), or the peer address (`ip:ADDR`) when it
 * is anonymous (auth off).
 */
export function rateLimitKey(request: FastifyRequest): string {
  const principal = (request as { principal?: FastifyRequest['principal'] }).principal ?? null;
  return principal === null ? `ip:${request.ip}` : `p:${principal.id}`;
}

/**
 * Registers `@fastify/rate-limit` on `app` (the root instance, before the route plugins): every
 * route except the public ones (probes, the dashboard's files) allows each caller (see
 * {@link rateLimitKey}) `max` requests per `timeWindowMs`. The limit is checked after
 * authentication (its hook runs after the root `onRequest` hooks), so a caller is counted by its
 * principal; requests refused by authentication are answered before they are counted. Over the
 * limit a request is answered 429 `RATE_LIMITED` (`{code, message}`) with `Retry-After` (seconds)
 * and `X-RateLimit-*` headers. With Redis, a Redis error lets the request through rather than
 * failing it: the limit protects the service, and must not become a way for it to fail.
 *
 * @example
 * installRateLimit(app, { max: 600, timeWindowMs: 60_000, redis });
 */
export function installRateLimit(app: FastifyInstance, options: RateLimitOptions): void {
  const { max, timeWindowMs } = options;
  if (!Number.isInteger(max) || max < 1)
    throw new InvalidArgumentError('rateLimit.max', `must be an integer ≥ 1, got ${max}`);
  if (!Number.isInteger(timeWindowMs) || timeWindowMs < 1)
    throw new InvalidArgumentError(
      'rateLimit.timeWindowMs',
      `must be an integer ≥ 1 (milliseconds), got ${timeWindowMs}`,
    );
  void app.register(rateLimit, {
    global: true,
    max,
    timeWindow: timeWindowMs,
    keyGenerator: rateLimitKey,
    allowList: (request) => request.routeOptions.config.public === true,
    ...(options.redis === undefined
      ? {}
      : {
          redis: options.redis,
          nameSpace: options.redisPrefix ?? 'kiban:rate-limit:',
          skipOnError: true,
        }),
    errorResponseBuilder: (_request, context) =>
      new RateLimitedError(
        `rate limit exceeded: at most ${context.max} requests per ${seconds(timeWindowMs)}; retry in ${context.after}`,
      ),
  });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
