import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { createServer } from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';

/** Host and port options shared by `kiban serve` and `kiban demo`. */
export interface ListenOptions {
  port: string;
  host: string;
}

/** Adds `--config`, `--port` and `--host`, as `kiban serve` and `kiban demo` take them. */
export function addServeOptions(command: Command): Command {
  return command
    .option(
      '--config <file>',
      'configuration (YAML) naming the data, model and stores; defaults need none',
    )
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8080')
    .option(
      '--host <addr>',
      'address to listen on; off loopback, auth is required unless --auth off --insecure',
      '127.0.0.1',
    );
}

/**
 * Adds `--auth required|off` (env `KIBAN_AUTH`) and `--insecure`, as `kiban serve` takes them;
 * their overlay keys are `auth.mode` and `auth.insecure`.
 */
export function addAuthOptions(command: Command): Command {
  return command
    .option(
      '--auth <mode>',
      'required: every API route needs an API key or token with its scope; off: none (default: required unless --host is loopback)',
    )
    .option(
      '--insecure',
      'allow --auth off on a non-loopback host (prints a warning): anyone reaching the port can change everything',
    );
}

/** The config overlay keys of {@link addAuthOptions}, for `flagOverlay`. */
export const AUTH_FLAG_KEYS = Object.freeze({
  auth: ['auth.mode', '--auth'],
  insecure: ['auth.insecure', '--insecure'],
} as const);

/** Prints `warning` to stderr so that it stands out from the JSON log lines. */
export function printLoudWarning(warning: string): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`${bar}\n${warning}\n${bar}\n`);
}

/**
 * Starts `app` and resolves once it has shut down gracefully after SIGINT or SIGTERM: the
 * listener closes, in-flight requests finish, then `cleanup` runs (closing stores).
 * `onListening` receives the base URL (useful with `--port 0`).
 */
export async function serveUntilSignal(
  app: FastifyInstance,
  options: ListenOptions,
  cleanup: () => Promise<void>,
  onListening: (baseUrl: string) => void,
): Promise<void> {
  const port = parsePort(options);
  try {
    await app.listen({ port, host: options.host });
  } catch (error) {
    await app.close().catch(() => undefined);
    await cleanup();
    throw listenError(error, options.host, port);
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  onListening(`http://${host}:${actualPort}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stderr.write('shutting down…\n');
      app.close().then(cleanup).finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function parsePort(options: ListenOptions): number {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(
      '--port',
      `must be an integer from 0 to 65535, got "${options.port}"`,
    );
  return port;
}

/** A failed listen as one line naming the address and what to do, for the errors a user can fix; others pass through. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (code === 'EADDRINUSE')
    return new InvalidArgumentError(
      '--port',
      `${address} is already in use; stop what is listening there or choose another port with --port (0 picks a free one)`,
      { cause: error },
    );
  if (code === 'EACCES')
    return new InvalidArgumentError(
      '--port',
      `${address} may not be used by this user (ports below 1024 need privileges); choose another with --port`,
      { cause: error },
    );
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new InvalidArgumentError('--host', `"${host}" is not an address of this machine`, {
      cause: error,
    });
  return error;
}

/**
 * Fails fast, before slow work such as the demo's pipeline, when `--port` is taken: binds the
 * address and lets it go again. The port may still be taken in between; {@link serveUntilSignal}
 * reports that the same way. Port 0 always passes.
 * @throws InvalidArgumentError naming the address and `--port`
 */
export async function checkPortFree(options: ListenOptions): Promise<void> {
  const port = parsePort(options);
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, options.host, port)));
    server.listen({ port, host: options.host }, () => server.close(() => resolve()));
  });
}
