import { isIP } from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import type { KibanConfig } from './config.js';

/** Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice('::ffff:'.length) : bare;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** What {@link resolveServeAuth} decided. */
export interface ServeAuth {
  mode: 'required' | 'off';
  /** A warning to print loudly: auth is off on a non-loopback host (`--insecure`). */
  warning: string | null;
}

/**
 * The auth mode `kiban serve` runs with: `auth.mode` when given, else `required` on a
 * non-loopback `serve.host` and `off` on loopback (what a laptop and the tests use). Auth off on
 * a non-loopback host is refused unless `auth.insecure` (`--insecure`), and then comes with a
 * warning to print.
 * @throws InvalidArgumentError naming the mode's source when auth is off on a non-loopback host without `--insecure`
 *
 * @example
 * const { mode, warning } = resolveServeAuth(config);
 */
export function resolveServeAuth(
  config: Pick<KibanConfig, 'auth' | 'serve' | 'sources'>,
): ServeAuth {
  const host = config.serve.host;
  const loopback = isLoopbackHost(host);
  const mode = config.auth.mode ?? (loopback ? 'off' : 'required');
  if (mode === 'required' || loopback) return { mode, warning: null };
  const source = config.sources['auth.mode'];
  if (!config.auth.insecure)
    throw new InvalidArgumentError(
      source !== undefined && (source.startsWith('-') || source.startsWith('KIBAN_'))
        ? source
        : 'auth.mode',
      `auth is off but the server would listen on ${host}, which is not a loopback address: anyone who can reach it could change experiments, bandits and workflows. Use --auth required (and API keys: kiban keys create), listen on 127.0.0.1, or pass --insecure if you mean it`,
    );
  return {
    mode,
    warning: `WARNING: kiban is serving on ${host} with authentication OFF (--insecure): anyone who can reach this port can read and change everything. Use --auth required with API keys (kiban keys create) outside a trusted network.`,
  };
}
