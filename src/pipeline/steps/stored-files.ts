import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import type { ArtifactCallOptions, ArtifactStore } from '../../storage/artifacts/artifact-store.js';

/**
 * Uploads every file below the local directory `dir` to `store` under `prefix/<relative path>`
 * (`/`-separated), streaming each file. Files are put one by one, each atomically; a reader that
 * needs the whole set should look for it only after this resolves (the caller records the prefix
 * afterwards, e.g. in `model.json` or the metadata store).
 * @returns the keys written, sorted.
 */
export async function uploadDirectory(
  store: Pick<ArtifactStore, 'put'>,
  dir: string,
  prefix: string,
  options: ArtifactCallOptions = {},
): Promise<string[]> {
  const keys: string[] = [];
  for (const file of await filesBelow(dir)) {
    const key = `${prefix}/${relative(dir, file).split(sep).join('/')}`;
    await store.put(key, createReadStream(file), options);
    keys.push(key);
  }
  return keys.sort();
}

/**
 * Downloads every object under `prefix/` in `store` into the local directory `dir` (created),
 * keeping the relative layout; each file is streamed to a temporary sibling and renamed, so a
 * reader never sees half of one.
 * @returns how many files were written (0 when nothing is stored under the prefix).
 */
export async function downloadPrefix(
  store: Pick<ArtifactStore, 'get' | 'list'>,
  prefix: string,
  dir: string,
  options: ArtifactCallOptions = {},
): Promise<number> {
  const objects = await store.list(`${prefix}/`, options);
  for (const { key } of objects) {
    const target = join(dir, ...key.slice(prefix.length + 1).split('/'));
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.download-${process.pid}`;
    await pipeline(await store.get(key, options), createWriteStream(tmp));
    await rename(tmp, target);
  }
  return objects.length;
}

/**
 * Downloads the objects under `prefix/` into a fresh temporary directory, calls `use` with it
 * (for libraries that read a file path) and removes the directory afterwards, whatever `use` did.
 * @throws NotFoundError naming `prefix` when nothing is stored under it.
 */
export async function withDownloadedPrefix<T>(
  store: Pick<ArtifactStore, 'get' | 'list'>,
  prefix: string,
  use: (dir: string) => Promise<T>,
  options: ArtifactCallOptions = {},
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-artifact-'));
  try {
    if ((await downloadPrefix(store, prefix, dir, options)) === 0)
      throw new NotFoundError(`artifact ${prefix}/ (nothing is stored under it)`);
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Calls `write` with a fresh temporary directory, uploads what it wrote under `prefix/` and
 * removes the directory, whatever happened.
 * @returns the keys written, sorted.
 */
export async function uploadWritten(
  store: Pick<ArtifactStore, 'put'>,
  prefix: string,
  write: (dir: string) => Promise<void>,
  options: ArtifactCallOptions = {},
): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-artifact-'));
  try {
    await write(join(dir, 'out'));
    return await uploadDirectory(store, join(dir, 'out'), prefix, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function filesBelow(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesBelow(path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/**
 * Calls `use` with a local directory holding the model `ref` names: its `artifactPath` for a
 * model saved under a plain directory, else a temporary download of `ref.artifactKey` from the
 * store `ref.artifacts` (removed afterwards).
 * @throws InvalidArgumentError naming `openArtifacts` when the model is in a store and no opener was given.
 */
export async function withModelDirectory<T>(
  ref: { artifactPath: string; artifacts?: string; artifactKey?: string },
  openArtifacts: ((url: string) => Promise<ArtifactStore>) | undefined,
  use: (dir: string) => Promise<T>,
  options: ArtifactCallOptions = {},
): Promise<T> {
  if (ref.artifacts === undefined || ref.artifactKey === undefined) return use(ref.artifactPath);
  if (openArtifacts === undefined)
    throw new InvalidArgumentError(
      'openArtifacts',
      `the model ${ref.artifactKey} is in an artifact store and this step was given no opener`,
    );
  const store = await openArtifacts(ref.artifacts);
  try {
    return await withDownloadedPrefix(store, ref.artifactKey, use, options);
  } finally {
    await store.close();
  }
}
