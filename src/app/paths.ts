import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: two levels up from this file in both src/app and dist/app. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Path of a file shipped with kiban (e.g. the bundled datasets), relative to the working
 * directory when it lies below it, so that defaults read well in `--help`.
 */
export function bundledPath(path: string): string {
  const absolute = resolve(ROOT, path);
  const rel = relative(process.cwd(), absolute);
  return rel.startsWith('..') ? absolute : rel;
}
