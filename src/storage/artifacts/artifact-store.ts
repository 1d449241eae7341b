import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';

/**
 * What {@link ArtifactStore.put} accepts: bytes, a UTF-8 string, or a stream of byte chunks
 * (a Node `Readable` or any async iterable). A stream is consumed once, to its end.
 */
export type ArtifactBody = Uint8Array | string | AsyncIterable<Uint8Array | string>;

/** One stored object as {@link ArtifactStore.list} and {@link ArtifactStore.stat} describe it. */
export interface ArtifactInfo {
  /** The key, as given to `put`. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** When the object was last written, to the second or better (the backend's clock). */
  modified: Date;
}

/** Options of the calls that may block. */
export interface ArtifactCallOptions {
  /** Aborts the call; an aborted `put` leaves the previous object (or none) in place. */
  signal?: AbortSignal;
}

/**
 * A flat store of immutable-by-convention binary objects (models, indexes, candidate files, run
 * work files) addressed by key, so that a process on another host reads what a worker wrote.
 * Backends: `file:` (a local directory, the default) and `s3://` (any S3-compatible service);
 * `src/app/open-artifact-store.ts` turns a URL into one.
 *
 * Contract, for every backend (checked by `test/contracts/artifact-store-contract.ts`):
 * - **Keys** are 1 to 1024 ASCII characters: segments separated by single `/`, each segment made
 *   of letters, digits, `.`, `_`, `-` and `=`, not starting with `.` (so `.` and `..` are
 *   impossible and temporary names never collide with keys). No leading or trailing `/`, no empty
 *   segment. Anything else is refused with `InvalidArgumentError` (field `key`) before any I/O;
 *   a key is never used as a path without this check. See `assertArtifactKey`.
 * - **put is atomic**: a concurrent or later reader sees the previous object or the whole new
 *   one, never a part; a failed or aborted put leaves the previous object. The last put wins.
 * - **get** returns a stream of the whole object as it was when `get` was called, or throws
 *   `NotFoundError` (before returning) when there is no object under the key.
 * - **list(prefix)** returns every object whose key starts with `prefix` (a plain string prefix,
 *   not only whole segments; `''` lists all), sorted ascending by key in code-unit order (for
 *   ASCII keys the same as S3's byte order). Objects being written are not listed.
 * - **delete** removes the object; deleting a missing key is not an error.
 * - A key and a key under it as a folder (`a` and `a/b`) must not both be used: the `file:`
 *   backend refuses the second with `ConflictError`; layouts built on this seam never need both.
 * - **close** releases connections; the store is not used afterwards.
 *
 * @example
 * ```ts
 * const store = await openArtifactStore('file:.kiban/artifacts');
 * await store.put('models/als-7/model.bin', bytes);
 * const again = await readArtifact(store, 'models/als-7/model.bin');
 * for (const { key, size } of await store.list('models/')) console.log(key, size);
 * await store.close();
 * ```
 */
export interface ArtifactStore {
  /** Stores `body` under `key`, replacing what was there, atomically (see the interface). */
  put(key: string, body: ArtifactBody, options?: ArtifactCallOptions): Promise<void>;
  /**
   * A stream of the object under `key`.
   *
   * @throws NotFoundError when there is no object under `key`.
   */
  get(key: string, options?: ArtifactCallOptions): Promise<Readable>;
  /** Size and modification time of the object under `key`, or null when there is none. */
  stat(key: string, options?: ArtifactCallOptions): Promise<ArtifactInfo | null>;
  /** Every object whose key starts with `prefix` (default `''`: all), sorted by key. */
  list(prefix?: string, options?: ArtifactCallOptions): Promise<ArtifactInfo[]>;
  /** Removes the object under `key`; a missing key is not an error. */
  delete(key: string, options?: ArtifactCallOptions): Promise<void>;
  /** Releases what the store holds open (connections, sockets). */
  close(): Promise<void>;
}

/**
 * Reads a whole object into memory; for small objects (pointers, manifests, metadata).
 *
 * @throws NotFoundError when there is no object under `key`.
 * @example
 * ```ts
 * const manifest = JSON.parse((await readArtifact(store, 'runs/r1/manifest.json')).toString('utf8'));
 * ```
 */
export async function readArtifact(
  store: Pick<ArtifactStore, 'get'>,
  key: string,
  options?: ArtifactCallOptions,
): Promise<Buffer> {
  const stream = await store.get(key, options);
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/**
 * Whether a `stores.artifacts` value is an artifact store URL (`file:…`, `s3://…`) rather than a
 * plain directory path (the older form, e.g. `.kiban/models`). The one check the composition
 * root and the pipeline steps share.
 */
export function isArtifactStoreUrl(value: string): boolean {
  return value.startsWith('file:') || value.startsWith('s3://');
}
