import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { InvalidArgumentError } from '../core/errors.js';

/** Host and port options shared by `kiban serve` and `kiban demo`. */
export interface ListenOptions {
  port: string;
  host: string;
}

/** Adds `--config`, `--port` and `--host`, as `kiban serve` and `kiban demo` take them. */
export function addServeOptions(command: Command): Command {
  return command
    .option('--config <file>', 'configuration (YAML) naming the data, model and stores; defaults need none')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8080')
    .option('--host <addr>', 'address to listen on; the API has no authentication yet, so keep it local unless you mean it', '127.0.0.1');
}

/**
 * Starts `app` and resolves once it has shut down gracefully after SIGINT or SIGTERM: the
 * listener closes, in-flight requests finish, then `cleanup` runs (closing stores).
 * `onListening` receives the base URL (useful with `--port 0`).
 */
export async function serveUntilSignal(app: FastifyInstance, options: ListenOptions, cleanup: () => Promise<void>, onListening: (baseUrl: string) => void): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('--port', `must be an integer from 0 to 65535, got "${options.port}"`);
  await app.listen({ port, host: options.host });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  onListening(`http://${host}:${actualPort}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stderr.write('shutting down…\n');
      app
        .close()
        .then(cleanup)
        .finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
