import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../../core/atomic-dir.js';
import { DataError, NotFoundError } from '../../core/errors.js';
import { Tagger } from './tagger.js';

/**
 * Writes `tagger` to `path` in its binary format ({@link Tagger.toBytes}), through a temporary
 * sibling renamed into place: a reader (or a serving process picking up a new model) sees the
 * old file or the whole new one, never half.
 *
 * @returns the number of bytes written.
 */
export async function writeTaggerFile(
  path: string,
  tagger: Tagger,
  options: { quantise?: boolean } = {},
): Promise<number> {
  const bytes = tagger.toBytes({ quantise: options.quantise ?? false });
  await writeFileAtomically(path, bytes);
  return bytes.byteLength;
}

/**
 * Reads a tagger written by {@link writeTaggerFile} (or `kiban tags train`).
 *
 * @throws NotFoundError when there is no such file; DataError when it is not a tagger model.
 */
export async function readTaggerFile(path: string): Promise<Tagger> {
  const bytes = await readFile(path).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'ENOENT') throw new NotFoundError(`tagger model file ${path}`, { cause });
    throw new DataError({ file: path }, `cannot read the tagger model: ${cause.message}`, {
      cause,
    });
  });
  return Tagger.fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
