/**
 * HTTP load for the latency benchmarks (bench/bandits.ts, bench/tags-serve.ts). At a fixed rate:
 * the open-loop generator bench/peers/rate-load.c built with the machine's C compiler (no
 * collector or event loop of its own in the figures), else (or when asked) bench/rate-load.ts,
 * the same schedule and report in TypeScript; both print `{rate, requests, achievedRate,
 * latencyMs: {p50, p90, p99, p999, max}, lateMs, non2xx, errors}`. At full speed: autocannon
 * (bench/serve-load.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cpuSeconds, type ServerProcess } from './server-process.js';

/** What either generator reports. */
export interface FixedRateResult {
  rate: number;
  requests: number;
  achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  lateMs: { p99: number; max: number };
  non2xx: number;
  errors: number;
}

/** A built generator: the C binary's path, or null for the TypeScript one. */
export interface FixedRateGenerator {
  binary: string | null;
  /** The source that makes the figures, for the report. */
  name: 'bench/peers/rate-load.c' | 'bench/rate-load.ts';
}

/**
 * Builds the C generator into `dir` unless `choice` is `node`; with `auto`, falls back to the
 * TypeScript one (saying so on stderr) when `cc` cannot build it. @throws with `c` and no compiler
 */
export function fixedRateGenerator(
  dir: string,
  choice: 'auto' | 'c' | 'node' = 'auto',
): FixedRateGenerator {
  if (choice === 'node') return { binary: null, name: 'bench/rate-load.ts' };
  const binary = join(dir, 'rate-load');
  try {
    execFileSync('cc', ['-O2', '-o', binary, 'bench/peers/rate-load.c'], { stdio: 'ignore' });
    return { binary, name: 'bench/peers/rate-load.c' };
  } catch {
    if (choice === 'c')
      throw new Error('--generator c: bench/peers/rate-load.c does not build with cc');
    process.stderr.write('no C compiler: fixed-rate load from bench/rate-load.ts\n');
    return { binary: null, name: 'bench/rate-load.ts' };
  }
}

/** POSTs the JSON lines of `bodies` in turn to `url` + `path`, `rate` per second for `seconds` (after 1 s of warm-up). */
export async function runFixedRate(
  generator: FixedRateGenerator,
  url: string,
  path: string,
  bodies: string,
  rate: number,
  seconds: number,
): Promise<FixedRateResult> {
  const { hostname, port } = new URL(url);
  const { stdout } =
    generator.binary !== null
      ? await promisify(execFile)(
          generator.binary,
          [hostname, port, path, bodies, String(rate), String(seconds), '1'],
          { maxBuffer: 1 << 24 },
        )
      : await promisify(execFile)(
          process.execPath,
          [
            '--import',
            'tsx',
            'bench/rate-load.ts',
            '--url',
            url,
            '--path',
            path,
            '--bodies',
            bodies,
            '--rate',
            String(rate),
            '--seconds',
            String(seconds),
          ],
          { maxBuffer: 1 << 24 },
        );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FixedRateResult;
}

/**
 * The fixed-rate figures of one server: 2 s of warm-up, then `seconds` measured, with the
 * server's CPU time per request from /proc (a figure a busy machine does not distort).
 */
export async function measureAtRate(
  generator: FixedRateGenerator,
  server: Pick<ServerProcess, 'url' | 'pid'>,
  path: string,
  bodies: string,
  rate: number,
  seconds: number,
): Promise<FixedRateResult & { serverCpuMicrosecondsPerRequest: number }> {
  await runFixedRate(generator, server.url, path, bodies, rate, 2);
  const c0 = await cpuSeconds(server.pid);
  const measured = await runFixedRate(generator, server.url, path, bodies, rate, seconds);
  const served = measured.requests + rate; // the generator's own 1 s warm-up is served too
  return {
    ...measured,
    serverCpuMicrosecondsPerRequest: Math.round(
      (((await cpuSeconds(server.pid)) - c0) * 1e6) / served,
    ),
  };
}

/** What bench/serve-load.ts (autocannon) reports; latencies in whole ms. */
export interface FullSpeedResult {
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** POSTs the JSON lines of `bodies` to `url` + `path` as fast as `connections` connections go, for `seconds`. */
export async function runFullSpeed(
  url: string,
  path: string,
  bodies: string,
  seconds: number,
  connections: number,
): Promise<FullSpeedResult> {
  const args = [
    '--import',
    'tsx',
    'bench/serve-load.ts',
    '--url',
    url,
    '--path',
    path,
    '--bodies',
    bodies,
    '--seconds',
    String(seconds),
    '--connections',
    String(connections),
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FullSpeedResult;
}
