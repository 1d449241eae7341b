import { availableParallelism } from 'node:os';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { tsxApiUrl } from './import-module.js';

/** Number of threads to use when the caller does not say: one per core. */
export function defaultThreadCount(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Starts a worker thread running the module at `moduleUrl`. Compiled JavaScript starts directly.
 * A TypeScript module (tests, `tsx` runs) starts from a small bootstrap that registers tsx's
 * loader inside the worker first: neither tsx's CLI flags nor `--import tsx` reach a worker's
 * entry module on Node 20, while an in-worker `register()` does.
 */
export function startWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, options);
  const api = tsxApiUrl();
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
