/**
 * Load at a fixed rate for the latency benchmarks (bench/bandits.ts, bench/tags-serve.ts): the
 * open-loop generator bench/peers/rate-load.c built with the machine's C compiler (no collector
 * or event loop of its own in the figures), else (or when asked) bench/rate-load.ts, the same
 * schedule and report in TypeScript. Both print `{rate, requests, achievedRate, latencyMs: {p50,
 * p90, p99, p999, max}, lateMs, non2xx, errors}`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
export function fixedRateGenerator(dir: string, choice: 'auto' | 'c' | 'node' = 'auto'): FixedRateGenerator {
  if (choice === 'node') return { binary: null, name: 'bench/rate-load.ts' };
  const binary = join(dir, 'rate-load');
  try {
    execFileSync('cc', ['-O2', '-o', binary, 'bench/peers/rate-load.c'], { stdio: 'ignore' });
    return { binary, name: 'bench/peers/rate-load.c' };
  } catch {
    if (choice === 'c') throw new Error('--generator c: bench/peers/rate-load.c does not build with cc');
    process.stderr.write('no C compiler: fixed-rate load from bench/rate-load.ts\n');
    return { binary: null, name: 'bench/rate-load.ts' };
  }
}

/** POSTs the JSON lines of `bodies` in turn to `url` + `path`, `rate` per second for `seconds` (after 1 s of warm-up). */
export async function runFixedRate(generator: FixedRateGenerator, url: string, path: string, bodies: string, rate: number, seconds: number): Promise<FixedRateResult> {
  const { hostname, port } = new URL(url);
  const { stdout } =
    generator.binary !== null
      ? await promisify(execFile)(generator.binary, [hostname, port, path, bodies, String(rate), String(seconds), '1'], { maxBuffer: 1 << 24 })
      : await promisify(execFile)(
          process.execPath,
          ['--import', 'tsx', 'bench/rate-load.ts', '--url', url, '--path', path, '--bodies', bodies, '--rate', String(rate), '--seconds', String(seconds)],
          { maxBuffer: 1 << 24 },
        );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as FixedRateResult;
}
