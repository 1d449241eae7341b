import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a directory so that readers see either the previous one or the complete new one:
 * `fill` writes into a hidden temporary sibling, which then replaces `dir` by renames. A crash or
 * an error leaves `dir` as it was (the temporary directory is removed on error), so a retried
 * step never finds a mix of two attempts.
 */
export async function writeDirectoryAtomically(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
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
