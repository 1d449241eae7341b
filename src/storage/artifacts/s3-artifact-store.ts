import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { InvalidArgumentError, KibanError, NotFoundError } from '../../core/errors.js';
import { assertArtifactKey, assertArtifactPrefix } from './artifact-key.js';
import type {
  ArtifactBody,
  ArtifactCallOptions,
  ArtifactInfo,
  ArtifactStore,
} from './artifact-store.js';

type ClientModule = typeof import('@aws-sdk/client-s3');
type StorageModule = typeof import('@aws-sdk/lib-storage');

/** Static credentials; leave them out to use the SDK's chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, roles). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of {@link S3ArtifactStore.open}. */
export interface S3ArtifactStoreOptions {
  /** The bucket; it must exist (the store never creates buckets). */
  bucket: string;
  /**
   * The folder in the bucket that holds the store's objects (`kiban/prod` puts key `a/b` at
   * `kiban/prod/a/b`); leading and trailing `/` are ignored.
   * @defaultValue `''` (the bucket's root)
   */
  prefix?: string;
  /** The service's URL, e.g. `http://127.0.0.1:9000` for a local server; AWS's when left out. */
  endpoint?: string;
  /** @defaultValue `'us-east-1'` */
  region?: string;
  /**
   * Address the bucket in the path (`endpoint/bucket/key`) rather than the host name, as most
   * S3-compatible servers need.
   * @defaultValue true
   */
  forcePathStyle?: boolean;
  /** Static credentials; never logged. */
  credentials?: S3Credentials;
  /**
   * Bytes per part of a streamed put; a stream shorter than this is sent as one PutObject,
   * a longer one as a multipart upload (S3 shows neither until it completes).
   * @defaultValue 8 MiB (S3's minimum is 5 MiB)
   */
  partSize?: number;
  /** @defaultValue 4 parts uploaded at a time (memory use is up to `partSize × queueSize`) */
  queueSize?: number;
}

/** The defaults of {@link S3ArtifactStoreOptions}. */
export const S3_ARTIFACT_STORE_DEFAULTS = Object.freeze({
  prefix: '',
  region: 'us-east-1',
  forcePathStyle: true,
  partSize: 8 * 1024 * 1024,
  queueSize: 4,
});

const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * The `s3://` {@link ArtifactStore} over `@aws-sdk/client-s3`, for AWS S3 and S3-compatible
 * services (MinIO, Ceph, s3rver, …). Key `k` is object `prefix/k` in the bucket. Puts are atomic
 * because S3 publishes an object only when its PutObject or multipart upload completes; streams
 * go through `@aws-sdk/lib-storage`'s `Upload`. The SDK is loaded by {@link S3ArtifactStore.open},
 * so processes that never open an S3 store never load it. Credentials are not kept in messages.
 *
 * @example
 * ```ts
 * const store = await S3ArtifactStore.open({ bucket: 'ml', prefix: 'kiban', endpoint: 'http://127.0.0.1:9000' });
 * await store.put('models/als-7/model.bin', createReadStream('model.bin'));
 * await store.close();
 * ```
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly bucket: string;
  /** The folder in the bucket, `''` or ending with `/`. */
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #sdk: ClientModule;
  readonly #storage: StorageModule;
  readonly #options: Readonly<Required<Omit<S3ArtifactStoreOptions, 'endpoint' | 'credentials'>>>;

  private constructor(
    sdk: ClientModule,
    storage: StorageModule,
    client: S3Client,
    options: Readonly<Required<Omit<S3ArtifactStoreOptions, 'endpoint' | 'credentials'>>>,
  ) {
    this.#sdk = sdk;
    this.#storage = storage;
    this.#client = client;
    this.#options = options;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
  }

  /**
   * Loads the SDK and makes a client; sends no request (a wrong bucket or endpoint shows on the
   * first call).
   *
   * @throws InvalidArgumentError naming the option at fault (`bucket`, `prefix`, `endpoint`, `partSize`, `queueSize`).
   */
  static async open(options: S3ArtifactStoreOptions): Promise<S3ArtifactStore> {
    const merged = { ...S3_ARTIFACT_STORE_DEFAULTS, ...withoutUndefined(options) };
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(merged.bucket)) {
      throw new InvalidArgumentError(
        'bucket',
        `"${merged.bucket}" is not an S3 bucket name (3-63 lower-case letters, digits, "." and "-")`,
      );
    }
    const folder = merged.prefix.replace(/^\/+|\/+$/g, '');
    if (folder !== '') assertArtifactPrefix(folder, 'prefix');
    if (
      merged.endpoint !== undefined &&
      !/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(merged.endpoint)
    ) {
      throw new InvalidArgumentError(
        'endpoint',
        'must be an http:// or https:// URL without credentials, query or fragment',
      );
    }
    if (!Number.isInteger(merged.partSize) || merged.partSize < MIN_PART_SIZE) {
      throw new InvalidArgumentError(
        'partSize',
        `must be an integer of at least ${MIN_PART_SIZE} bytes (S3's smallest part), got ${merged.partSize}`,
      );
    }
    if (!Number.isInteger(merged.queueSize) || merged.queueSize < 1)
      throw new InvalidArgumentError(
        'queueSize',
        `must be a positive integer, got ${merged.queueSize}`,
      );
    const [sdk, storage] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('@aws-sdk/lib-storage'),
    ]);
    const client = new sdk.S3Client({
      region: merged.region,
      forcePathStyle: merged.forcePathStyle,
      ...(merged.endpoint === undefined ? {} : { endpoint: merged.endpoint }),
      ...(merged.credentials === undefined ? {} : { credentials: { ...merged.credentials } }),
      // Checksums only where S3 requires them: S3-compatible servers do not all understand the
      // newer trailing-checksum (aws-chunked) uploads the SDK would otherwise send.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return new S3ArtifactStore(
      sdk,
      storage,
      client,
      Object.freeze({
        bucket: merged.bucket,
        prefix: folder === '' ? '' : `${folder}/`,
        region: merged.region,
        forcePathStyle: merged.forcePathStyle,
        partSize: merged.partSize,
        queueSize: merged.queueSize,
      }),
    );
  }

  async put(key: string, body: ArtifactBody, options: ArtifactCallOptions = {}): Promise<void> {
    assertArtifactKey(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const Key = this.prefix + key;
    try {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        await this.#client.send(
          new this.#sdk.PutObjectCommand({ Bucket: this.bucket, Key, Body: body }),
          { abortSignal: signal },
        );
        return;
      }
      const upload = new this.#storage.Upload({
        client: this.#client,
        params: {
          Bucket: this.bucket,
          Key,
          Body: body instanceof Readable ? body : Readable.from(body),
        },
        partSize: this.#options.partSize,
        queueSize: this.#options.queueSize,
        leavePartsOnError: false,
      });
      const abort = (): void => void upload.abort().catch(() => {});
      signal?.addEventListener('abort', abort, { once: true });
      try {
        await upload.done();
      } finally {
        signal?.removeEventListener('abort', abort);
      }
      signal?.throwIfAborted();
    } catch (error) {
      throw this.#translate(error, 'put', key, signal);
    }
  }

  async get(key: string, options: ArtifactCallOptions = {}): Promise<Readable> {
    assertArtifactKey(key);
    options.signal?.throwIfAborted();
    try {
      const answer = await this.#client.send(
        new this.#sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        { abortSignal: options.signal },
      );
      const body = answer.Body;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([]);
      // Not Node's http stream (another runtime): go through the SDK's byte helper.
      return Readable.from([await body.transformToByteArray()]);
    } catch (error) {
      throw this.#translate(error, 'get', key, options.signal);
    }
  }

  async stat(key: string, options: ArtifactCallOptions = {}): Promise<ArtifactInfo | null> {
    assertArtifactKey(key);
    options.signal?.throwIfAborted();
    try {
      const head = await this.#client.send(
        new this.#sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        { abortSignal: options.signal },
      );
      return { key, size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0) };
    } catch (error) {
      const translated = this.#translate(error, 'stat', key, options.signal);
      if (translated instanceof NotFoundError && !isBucketMissing(error)) return null;
      throw translated;
    }
  }

  async list(prefix = '', options: ArtifactCallOptions = {}): Promise<ArtifactInfo[]> {
    assertArtifactPrefix(prefix);
    const found: ArtifactInfo[] = [];
    let token: string | undefined;
    try {
      do {
        options.signal?.throwIfAborted();
        const page = await this.#client.send(
          new this.#sdk.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
          { abortSignal: options.signal },
        );
        for (const object of page.Contents ?? []) {
          const key = object.Key?.slice(this.prefix.length);
          // Objects written by other tools under the prefix (folder markers, odd names) are not artifacts.
          if (key === undefined || !isArtifactKey(key)) continue;
          found.push({ key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw this.#translate(error, 'list', prefix, options.signal);
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string, options: ArtifactCallOptions = {}): Promise<void> {
    assertArtifactKey(key);
    options.signal?.throwIfAborted();
    try {
      await this.#client.send(
        new this.#sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
        { abortSignal: options.signal },
      );
    } catch (error) {
      throw this.#translate(error, 'delete', key, options.signal);
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  /** A KibanError for an SDK failure, naming the operation, the key and the bucket (never credentials). */
  #translate(
    error: unknown,
    operation: string,
    key: string,
    signal: AbortSignal | undefined,
  ): unknown {
    if (error instanceof KibanError) return error;
    if (signal?.aborted) return signal.reason;
    // Not an answer from the service (e.g. the body's source failed): the caller's own error.
    if (typeof error !== 'object' || error === null || !('$metadata' in error)) return error;
    const where = `s3://${this.bucket}/${this.prefix}`;
    if (isBucketMissing(error))
      return new NotFoundError(`S3 bucket "${this.bucket}"`, { cause: error });
    const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata
      ?.httpStatusCode;
    const name = (error as { name?: string })?.name;
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404)
      return new NotFoundError(`artifact "${key}" in ${where}`, { cause: error });
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new KibanError(
      'INTERNAL',
      `artifact store ${where}: ${operation} "${key}" failed (${reason})`,
      { cause: error },
    );
  }
}

function isBucketMissing(error: unknown): boolean {
  return (error as { name?: string })?.name === 'NoSuchBucket';
}

function isArtifactKey(key: string): boolean {
  try {
    assertArtifactKey(key);
    return true;
  } catch {
    return false;
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
