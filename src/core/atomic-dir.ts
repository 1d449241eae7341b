import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A unique hidden sibling name for writing `path` before renaming it into place. */
export function tempSibling(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/**
 * Writes `data` to a temporary sibling and renames it over `path` (creating the directory):
 * readers see the old file or the whole new one, never half.
 */
export async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Writes a directory so that readers see either the previous one or the complete new one:
 * `fill` writes into a hidden temporary sibling, which then replaces `dir` by renames. A crash or
 * an error leaves `dir` as it was (the temporary directory is removed on error), so a retried
 * step never finds a mix of two attempts.
 */
export async function writeDirectoryAtomically(
  dir: string,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = tempSibling(dir);
  await mkdir(tmp);
  try {
    await fill(tmp);
    // A directory cannot be renamed over a non-empty one: move the previous one aside first.
    const old = `${tmp}.old`;
    const hadOld = await rename(dir, old).then(
      () => true,
      () => false,
    );
    await rename(tmp, dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
