/**
 * Importing user modules (stages, workflow task modules) by path, TypeScript included, the same
 * way in every thread and process: the one place kiban loads code it did not ship.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** TypeScript module file names. */
const TYPESCRIPT = /\.[cm]?ts$/;

/** tsx's loader, once registered in this thread (module hooks are per thread). */
let tsxRegistered: Promise<void> | undefined;

/**
 * The file URL of tsx's ES module API (`tsx/esm/api`). Its package resolves the CommonJS build
 * for `require`; the ES module build sits beside it.
 */
export function tsxApiUrl(): string {
  return pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
}

/** Compiled kiban (dist/) runs on plain Node; from sources a TypeScript loader is always present. */
const COMPILED = !import.meta.url.endsWith('.ts');

/**
 * Imports a module by absolute path or file URL. Under tsx or vitest TypeScript imports
 * directly; compiled kiban on plain Node cannot, so before it imports a `.ts` (`.mts`, `.cts`)
 * module it registers tsx's loader in this thread, once. Worker threads and child processes
 * that call this get the same registration in their own thread. (Registering only after a
 * failed import does not work: Node keeps the failed load.)
 *
 * @example
 * const mod = await importModule('/home/me/stages/word-count.ts');
 */
export async function importModule(pathOrUrl: string): Promise<Record<string, unknown>> {
  const url = pathOrUrl.startsWith('file:') ? pathOrUrl : pathToFileURL(pathOrUrl).href;
  if (COMPILED && TYPESCRIPT.test(new URL(url).pathname)) {
    tsxRegistered ??= (async () => {
      const tsx = (await import(tsxApiUrl())) as { register: () => unknown };
      tsx.register();
    })();
    await tsxRegistered;
  }
  return (await import(url)) as Record<string, unknown>;
}
