/**
 * The one scheme table that turns a store URL into a backend, and {@link openBackends}, which
 * opens the backends a process needs once so that its role can pass them down. Every adapter
 * module (and so its driver: `better-sqlite3`, `ioredis`, `pg`) is loaded by dynamic import when
 * a URL first needs it: a process that never touches PostgreSQL never loads `pg`.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { ExperimentStore } from '../experiments/experiment-store.js';
import type { BanditStore } from '../storage/bandit-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import type { WorkflowStore } from '../workflow/workflow-store.js';
import {
  artifactStoreUrl,
  DEFAULT_ARTIFACTS_URL,
  openArtifactStore,
} from './open-artifact-store.js';

/** One row of the scheme table: which URLs it takes, and how it opens each seam it serves. */
interface Scheme {
  /** The scheme as messages name it, e.g. `sqlite:`. */
  readonly name: string;
  matches(url: string): boolean;
  serving?(url: string, field: string): Promise<ServingStore>;
  bandits?(url: string, field: string): Promise<BanditStore>;
  /** Opens without migrating; {@link openMetadataStore} migrates. */
  metadata?(url: string, field: string): Promise<MetadataStore>;
}

const isRedis = (url: string): boolean => url.startsWith('redis://') || url.startsWith('rediss://');

/**
 * The scheme table, in the order URLs are tried. `memory:` is private to the process;
 * `sqlite:PATH` (or `sqlite::memory:`) shared by the processes of one machine; `redis://` and
 * `postgres://` by every process that can reach the server.
 */
const SCHEMES: readonly Scheme[] = [
  {
    name: 'memory:',
    matches: (url) => url === 'memory:',
    serving: async () =>
      new (await import('../storage/memory-serving-store.js')).MemoryServingStore(),
    bandits: async () =>
      new (await import('../storage/memory-bandit-store.js')).MemoryBanditStore(),
  },
  {
    name: 'sqlite:',
    matches: (url) => url.startsWith('sqlite:'),
    serving: async (url, field) =>
      new (await import('../storage/sqlite-serving-store.js')).SqliteServingStore(
        await sqlitePath(url, field),
      ),
    // Bandit state is serving state: tables `bandit_*` in the same file.
    bandits: async (url, field) =>
      new (await import('../storage/sqlite-bandit-store.js')).SqliteBanditStore(
        await sqlitePath(url, field),
      ),
    metadata: async (url, field) =>
      (await import('../storage/kysely-metadata-store.js')).KyselyMetadataStore.sqlite(
        await sqlitePath(url, field),
      ),
  },
  {
    name: 'redis://',
    matches: isRedis,
    serving: async (url, field) => {
      const { base, options } = splitQuery(url, ['prefix'], field);
      return new (await import('../storage/redis-serving-store.js')).RedisServingStore(
        base,
        options.prefix === undefined ? {} : { prefix: options.prefix },
      );
    },
    bandits: async (url, field) => {
      const { base, options } = splitQuery(url, ['prefix'], field);
      return new (await import('../storage/redis-bandit-store.js')).RedisBanditStore(
        base,
        options.prefix === undefined ? {} : { prefix: options.prefix },
      );
    },
  },
  {
    name: 'postgres://',
    matches: (url) => url.startsWith('postgres://') || url.startsWith('postgresql://'),
    metadata: async (url, field) => {
      const { base, options } = splitQuery(url, ['schema'], field);
      return (await import('../storage/kysely-metadata-store.js')).KyselyMetadataStore.postgres(
        base,
        options.schema === undefined ? {} : { schema: options.schema },
      );
    },
  },
];

/** What each seam's error says to use when no row of the table takes a URL. */
const USAGE = {
  serving: (url: string) =>
    `"${url}" is not a serving store URL; use memory:, sqlite:PATH or redis://HOST:PORT`,
  metadata: (url: string) =>
    `"${url}" is not a metadata store URL; use sqlite:PATH or postgres://USER@HOST:PORT/DB`,
} as const;

function schemeFor<K extends 'serving' | 'bandits' | 'metadata'>(
  seam: K,
  url: string,
  field: string,
): NonNullable<Scheme[K]> {
  const opener = SCHEMES.find((scheme) => scheme.matches(url) && scheme[seam] !== undefined)?.[
    seam
  ];
  if (opener === undefined)
    throw new InvalidArgumentError(field, USAGE[seam === 'metadata' ? 'metadata' : 'serving'](url));
  return opener as NonNullable<Scheme[K]>;
}

/**
 * Opens the serving store a URL names: `memory:`, `sqlite:PATH` (embedded default; the directory
 * is created) or `redis://HOST:PORT[/DB][?prefix=P]` (keys under `P`, default `kiban:`, so that
 * several deployments can share one Redis).
 * @throws InvalidArgumentError naming `field` when no scheme takes the URL or an option is unknown
 */
export async function openServingStore(
  url: string,
  field = 'stores.serving',
): Promise<ServingStore> {
  return schemeFor('serving', url, field)(url, field);
}

/**
 * Opens the bandit store that sits beside the serving store a URL names (bandit state is serving
 * state): `memory:` (this process only), `sqlite:PATH` (tables `bandit_*` in the same file; the
 * processes of one machine share it) or `redis://HOST:PORT[/DB][?prefix=P]` (keys under `P`,
 * default `kiban:`; every process using the URL shares it).
 * @throws InvalidArgumentError naming `field` when no scheme takes the URL or an option is unknown
 */
export async function openBanditStore(url: string, field = 'stores.serving'): Promise<BanditStore> {
  return schemeFor('bandits', url, field)(url, field);
}

/**
 * Opens and migrates the metadata store a URL names: `sqlite:PATH` (embedded default),
 * `sqlite::memory:` or `postgres://USER@HOST:PORT/DB[?schema=S]` (tables in schema `S`).
 * @throws InvalidArgumentError naming `field` when no scheme takes the URL or an option is unknown
 */
export async function openMetadataStore(
  url: string,
  field = 'stores.metadata',
): Promise<MetadataStore> {
  const store = await schemeFor('metadata', url, field)(url, field);
  await store.migrate();
  return store;
}

/**
 * Brings the schema of the metadata store a URL names up to date, then closes it (`kiban migrate`).
 * Idempotent and safe to run from several processes at once (see `KyselyMetadataStore.migrate`).
 * @returns the names of the migrations this call applied, in order; empty when it was up to date
 * @throws InvalidArgumentError naming `field` when no scheme takes the URL or an option is unknown
 */
export async function migrateMetadataStore(
  url: string,
  field = 'stores.metadata',
): Promise<readonly string[]> {
  const store = await schemeFor('metadata', url, field)(url, field);
  try {
    return await store.migrate();
  } finally {
    await store.close();
  }
}

/** A seam {@link openBackends} can open. */
export type BackendSeam = 'serving' | 'metadata' | 'bandits' | 'artifacts';

/** Every backend a process can hold; {@link Backends} is the part a role asked for. */
export interface AllBackends {
  /** Lists and values the serving API answers from. */
  serving: ServingStore;
  /** Runs, models, experiments and workflow state (migrated when opened). */
  metadata: MetadataStore;
  /** `metadata.workflows`: runs, task states and logs. */
  workflows: WorkflowStore;
  /** `metadata.experiments`: A/B experiments and their events. */
  experiments: ExperimentStore;
  /** Bandit state, beside the serving store (the same URL). */
  bandits: BanditStore;
  /** Models, taggers and run work files, by key (`file:` or `s3://`; see `open-artifact-store.ts`). */
  artifacts: ArtifactStore;
}

/**
 * The backends of the seams `S`, opened once per process and passed down to whatever needs
 * them; `close()` closes each exactly once (closing twice is harmless).
 */
export type Backends<S extends BackendSeam = BackendSeam> = Pick<
  AllBackends,
  S | (S extends 'metadata' ? 'workflows' | 'experiments' : never)
> & {
  close(): Promise<void>;
};

/** The URLs of a configuration's stores (`KibanConfig.stores`). */
export interface StoreUrls {
  /** Serving store (and bandit state): `memory:`, `sqlite:PATH` or `redis://…`. */
  serving: string;
  /** Metadata store: `sqlite:PATH` or `postgres://…`. */
  metadata: string;
  /**
   * Artifact store: `file:DIR`, `s3://BUCKET/PREFIX?endpoint=…`, or a plain directory path (as
   * `file:` of it). Only read when the `artifacts` seam is asked for.
   * @defaultValue `file:.kiban/artifacts`
   */
  artifacts?: string;
}

/** Options of {@link openBackends}. */
export interface OpenBackendsOptions<S extends BackendSeam> {
  /** The seams to open; the others are never opened (nor their drivers loaded). */
  seams: readonly S[];
  /**
   * The name each URL goes by in errors, e.g. `--metadata` or `KIBAN_STORES_SERVING`.
   * @defaultValue `stores.serving`, `stores.metadata`
   */
  fields?: Partial<Record<keyof StoreUrls, string>>;
  /** S3 credentials for an `s3://` artifact store; left out, the AWS SDK's chain finds them. Never logged. */
  s3Credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/**
 * Opens the backends of `options.seams` from `urls`, in order serving, bandits, metadata, artifacts; when
 * one fails, those already open are closed before the error is rethrown.
 *
 * @example
 * const backends = await openBackends(config.stores, { seams: ['serving', 'metadata'] });
 * try {
 *   await runPipeline(pipeline, { serving: backends.serving, metadata: backends.metadata });
 * } finally {
 *   await backends.close();
 * }
 */
export async function openBackends<S extends BackendSeam>(
  urls: StoreUrls,
  options: OpenBackendsOptions<S>,
): Promise<Backends<S>> {
  const want = new Set<BackendSeam>(options.seams);
  const servingField = options.fields?.serving ?? 'stores.serving';
  const metadataField = options.fields?.metadata ?? 'stores.metadata';
  const opened: Partial<AllBackends> = {};
  const closers: Array<() => Promise<void>> = [];
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= Promise.allSettled(closers.reverse().map((c) => c())).then(() => undefined));
  try {
    if (want.has('serving')) {
      const serving = await openServingStore(urls.serving, servingField);
      closers.push(() => serving.close());
      opened.serving = serving;
    }
    if (want.has('bandits')) {
      const bandits = await openBanditStore(urls.serving, servingField);
      closers.push(() => bandits.close());
      opened.bandits = bandits;
    }
    if (want.has('metadata')) {
      const metadata = await openMetadataStore(urls.metadata, metadataField);
      closers.push(() => metadata.close());
      Object.assign(opened, {
        metadata,
        workflows: metadata.workflows,
        experiments: metadata.experiments,
      });
    }
    if (want.has('artifacts')) {
      const artifacts = await openArtifactStore(
        artifactStoreUrl(urls.artifacts ?? DEFAULT_ARTIFACTS_URL),
        {
          field: options.fields?.artifacts ?? 'stores.artifacts',
          ...(options.s3Credentials === undefined ? {} : { credentials: options.s3Credentials }),
        },
      );
      closers.push(() => artifacts.close());
      opened.artifacts = artifacts;
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { ...opened, close } as Backends<S>;
}

async function sqlitePath(url: string, field: string): Promise<string> {
  const path = url.slice('sqlite:'.length);
  if (path.length === 0)
    throw new InvalidArgumentError(
      field,
      `"${url}" names no file; use sqlite:PATH or sqlite::memory:`,
    );
  if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
  return path;
}

/** Separates kiban's own query options from a URL, refusing options it does not know. */
function splitQuery(
  url: string,
  known: string[],
  field: string,
): { base: string; options: Record<string, string> } {
  const at = url.indexOf('?');
  if (at < 0) return { base: url, options: {} };
  const options: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(url.slice(at + 1))) {
    if (!known.includes(key))
      throw new InvalidArgumentError(
        field,
        `unknown URL option "${key}"; known: ${known.join(', ')}`,
      );
    options[key] = value;
  }
  return { base: url.slice(0, at), options };
}
