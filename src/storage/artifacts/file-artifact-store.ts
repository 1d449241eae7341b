import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import { assertArtifactKey, assertArtifactPrefix } from './artifact-key.js';
import type {
  ArtifactBody,
  ArtifactCallOptions,
  ArtifactInfo,
  ArtifactStore,
} from './artifact-store.js';

/** Options of {@link FileArtifactStore}. */
export interface FileArtifactStoreOptions {
  /**
   * Flush each object to disk (`fsync`) before it becomes visible, so that a machine crash
   * cannot leave a visible but empty file.
   * @defaultValue true
   */
  fsync?: boolean;
}

/** The defaults of {@link FileArtifactStoreOptions}. */
export const FILE_ARTIFACT_STORE_DEFAULTS: Readonly<Required<FileArtifactStoreOptions>> =
  Object.freeze({ fsync: true });

/** The most bytes one read of a get takes from the file. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** Attempts at creating a put's folder when a concurrent delete removes it (empty) in between. */
const FOLDER_ATTEMPTS = 3;

/**
 * The `file:` {@link ArtifactStore}: each key is a file under `root` (key `a/b/c` is
 * `root/a/b/c`, so the tree can be read with ordinary tools). A put writes a hidden temporary
 * file (`.NAME.tmp-…`) in the same folder and renames it over the target, which is atomic on
 * one file system; readers hold the file they opened, so they see the old or the new object
 * whole. Keys are checked by `assertArtifactKey` and the resulting path is checked again to lie
 * under `root`. Folders left empty by `delete` are removed.
 *
 * @example
 * ```ts
 * const store = new FileArtifactStore('.kiban/artifacts');
 * await store.put('runs/r1/candidates.csv', createReadStream('candidates.csv'));
 * ```
 */
export class FileArtifactStore implements ArtifactStore {
  /** The absolute root folder. */
  readonly root: string;
  readonly #options: Readonly<Required<FileArtifactStoreOptions>>;

  /** @param root - the folder holding the objects (created on the first put); relative to the working directory. */
  constructor(root: string, options: FileArtifactStoreOptions = {}) {
    this.root = resolve(root);
    this.#options = Object.freeze({ ...FILE_ARTIFACT_STORE_DEFAULTS, ...options });
  }

  async put(key: string, body: ArtifactBody, options: ArtifactCallOptions = {}): Promise<void> {
    const path = this.#pathOf(key);
    const folder = path.slice(0, path.lastIndexOf(sep));
    const name = path.slice(folder.length + 1);
    options.signal?.throwIfAborted();
    const tmp = join(folder, `.${name}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const handle = await this.#createTemp(key, folder, tmp);
    try {
      try {
        await writeBody(handle, body, options.signal);
        if (this.#options.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      options.signal?.throwIfAborted();
      await rename(tmp, path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EISDIR' || error.code === 'ENOTEMPTY' || error.code === 'EEXIST') {
          throw new ConflictError(
            `artifact key "${key}": other objects are stored under "${key}/"; a key cannot also be a folder`,
            { cause: error },
          );
        }
        throw error;
      });
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  async get(key: string, options: ArtifactCallOptions = {}): Promise<Readable> {
    const path = this.#pathOf(key);
    options.signal?.throwIfAborted();
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`artifact "${key}"`, { cause: error });
      throw error;
    }
    // Opening a folder succeeds on Linux; a folder is not an object.
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw new NotFoundError(`artifact "${key}"`);
    }
    // Reads of up to 1 MiB: with Node's default 64 KiB a large model streamed at half the speed
    // of the disk (bench/artifacts.ts); a small object gets a buffer about its own size.
    const highWaterMark = Math.min(READ_CHUNK_BYTES, Math.max(16 * 1024, info.size));
    return handle.createReadStream({ signal: options.signal, highWaterMark });
  }

  async stat(key: string, options: ArtifactCallOptions = {}): Promise<ArtifactInfo | null> {
    const path = this.#pathOf(key);
    options.signal?.throwIfAborted();
    try {
      const info = await stat(path);
      return info.isFile() ? { key, size: info.size, modified: info.mtime } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async list(prefix = '', options: ArtifactCallOptions = {}): Promise<ArtifactInfo[]> {
    assertArtifactPrefix(prefix);
    // Walk only the deepest folder the prefix names in full.
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const found: ArtifactInfo[] = [];
    await this.#walk(base, prefix, found, options.signal);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string, options: ArtifactCallOptions = {}): Promise<void> {
    const path = this.#pathOf(key);
    options.signal?.throwIfAborted();
    try {
      await unlink(path);
    } catch (error) {
      // Missing, or a folder (which is not an object): nothing to delete.
      const code = (error as NodeJS.ErrnoException).code;
      if (isMissing(error) || code === 'EISDIR' || code === 'EPERM') return;
      throw error;
    }
    await this.#removeEmptyFolders(key);
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  /** The file of `key`, after checking the key and that the path stays under the root. */
  #pathOf(key: string): string {
    assertArtifactKey(key);
    const path = join(this.root, ...key.split('/'));
    // Defence in depth: the key check already rules out every way out of the root.
    if (!path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep))
      throw new InvalidArgumentError('key', `"${key}" resolves outside the store`);
    return path;
  }

  async #createTemp(key: string, folder: string, tmp: string): Promise<FileHandle> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(folder, { recursive: true });
        return await open(tmp, 'wx');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR' || code === 'EEXIST') {
          throw new ConflictError(
            `artifact key "${key}": a part of its folder is itself an object; a key cannot also be a folder`,
            { cause: error },
          );
        }
        // A concurrent delete removed the (then empty) folder between mkdir and open.
        if (code === 'ENOENT' && attempt < FOLDER_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async #walk(
    relative: string,
    prefix: string,
    found: ArtifactInfo[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    signal?.throwIfAborted();
    let entries: Dirent[];
    try {
      entries = await readdir(
        relative === '' ? this.root : join(this.root, ...relative.split('/')),
        { withFileTypes: true },
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (isMissing(error) || code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      // Hidden names are temporary files of puts in progress; keys never start with ".".
      if (entry.name.startsWith('.')) continue;
      const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`))
          await this.#walk(key, prefix, found, signal);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const info = await stat(join(this.root, ...key.split('/'))).catch((error: unknown) => {
          if (isMissing(error)) return null; // deleted while listing
          throw error;
        });
        if (info !== null) found.push({ key, size: info.size, modified: info.mtime });
      }
    }
  }

  /** Removes the folders of `key` that are now empty, deepest first, stopping at the first that is not. */
  async #removeEmptyFolders(key: string): Promise<void> {
    const segments = key.split('/');
    for (let depth = segments.length - 1; depth > 0; depth--) {
      try {
        await rmdir(join(this.root, ...segments.slice(0, depth)));
      } catch {
        return; // not empty (or already gone): its parents are not empty either
      }
    }
  }
}

async function writeBody(
  handle: FileHandle,
  body: ArtifactBody,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    await handle.writeFile(body, { signal });
    return;
  }
  const iterator = body[Symbol.asyncIterator]();
  // An abort must end the put even while the source is stalled, not at its next chunk.
  let stop: ((reason: unknown) => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    stop = reject;
  });
  aborted.catch(() => {});
  const onAbort = (): void => stop?.(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      signal?.throwIfAborted();
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done === true) return;
      const bytes = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      // A write may take fewer bytes than offered; go on until the chunk is written.
      for (let offset = 0; offset < bytes.length; )
        offset += (await handle.write(bytes, offset, bytes.length - offset)).bytesWritten;
    }
  } catch (error) {
    // Let the source release what it holds; it may still be busy, so do not wait for it.
    void Promise.resolve(iterator.return?.()).catch(() => {});
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}
