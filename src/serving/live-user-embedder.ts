import { InvalidArgumentError } from '../core/errors.js';
import { childLogger, type Logger, processLogger } from '../core/log.js';
import type { ExternalId } from '../data/id-map.js';
import { readArtifact } from '../models/artifact.js';
import { builtinModels } from '../models/builtin-models.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { UserEmbeddingModel } from '../models/recommender.js';
import {
  type EmbeddingVersionMeta,
  isUserEmbeddingModel,
  readEmbeddingMeta,
} from '../pipeline/steps/embedding-version.js';
import { withDownloadedPrefix } from '../pipeline/steps/stored-files.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import { Poller } from '../core/poller.js';

/** Options of {@link LiveUserEmbedder}. */
export interface LiveUserEmbedderOptions {
  /** How often the serving store's current version is read. @defaultValue 2000 */
  pollMs?: number;
  /** The models the saved model's kind is found in. @defaultValue kiban's own (`builtinModels()`) */
  models?: ModelRegistry;
  /** Where swaps (info) and load problems (error) go. @defaultValue the process logger's `embed` child */
  logger?: Logger;
}

/** The model of a published version, loaded and ready to embed users. */
export interface LoadedUserModel {
  /** The serving version that named it. */
  version: string;
  meta: EmbeddingVersionMeta;
  /**
   * The `items` vector index version published with it (`meta.vectors.items`), or null when the
   * version has none: answers combine the model and the index only when the index loaded is this one.
   */
  itemsIndex: string | null;
  model: UserEmbeddingModel;
}

/**
 * The model behind the published serving version, when that version was published by a model
 * that embeds users (its metadata has `embedding`, see {@link EmbeddingVersionMeta}): every
 * `pollMs` it reads the current version and, when it names another model, downloads that model
 * from the artifact store (`embedding.modelKey`), loads it beside the current one and swaps the
 * reference in one assignment. A version without `embedding` unloads it; a model that fails to
 * load is reported once and the previous one keeps answering (as the tags' `LiveTagger` does).
 *
 * @example
 * ```ts
 * const live = new LiveUserEmbedder(serving, artifacts);
 * live.start();
 * const vector = live.current?.model.embedUsers([[3, 17]]);
 * ```
 */
export class LiveUserEmbedder {
  readonly #serving: Pick<ServingStore, 'currentVersion'>;
  readonly #artifacts: Pick<ArtifactStore, 'get' | 'list'>;
  readonly #models: ModelRegistry;
  readonly #logger: Logger;
  #current: LoadedUserModel | null = null;
  readonly #poller: Poller<LoadedUserModel | null>;
  #failed: string | null = null;

  /** @throws InvalidArgumentError naming `pollMs` when it is not a positive integer. */
  constructor(
    serving: Pick<ServingStore, 'currentVersion'>,
    artifacts: Pick<ArtifactStore, 'get' | 'list'>,
    options: LiveUserEmbedderOptions = {},
  ) {
    const pollMs = options.pollMs ?? 2000;
    if (!Number.isInteger(pollMs) || pollMs < 1)
      throw new InvalidArgumentError('pollMs', `must be a positive integer, got ${pollMs}`);
    this.#serving = serving;
    this.#artifacts = artifacts;
    this.#poller = new Poller(() => this.#check(), pollMs);
    this.#models = options.models ?? builtinModels();
    this.#logger = options.logger ?? childLogger(processLogger(), 'embed');
  }

  /** The loaded model, or null when the published version has none (or it is not loaded yet). */
  get current(): LoadedUserModel | null {
    return this.#current;
  }

  /** Starts polling (the timer does not keep the process alive). */
  start(): void {
    this.#poller.start();
  }

  /**
   * Reads the current version now and loads its model if it names another; concurrent calls
   * share one check. Never throws: problems are logged and the loaded model stays.
   */
  refresh(): Promise<LoadedUserModel | null> {
    return this.#poller.run();
  }

  /** Stops polling. */
  close(): void {
    this.#poller.stop();
  }

  async #check(): Promise<LoadedUserModel | null> {
    try {
      const info = await this.#serving.currentVersion();
      const meta = info === null ? null : readEmbeddingMeta(info.meta);
      if (info === null || meta === null) {
        this.#current = null;
        return null;
      }
      const itemsIndex = itemsIndexOf(info.meta);
      if (meta.modelKey === this.#current?.meta.modelKey) {
        // Same model, republished: keep it, take the new version's metadata.
        if (this.#current.version !== info.version)
          this.#current = { ...this.#current, version: info.version, meta, itemsIndex };
        return this.#current;
      }
      if (meta.modelKey === this.#failed) return this.#current;
      try {
        const model = await this.#load(meta);
        this.#current = { version: info.version, meta, itemsIndex, model };
        this.#failed = null;
        this.#logger.info(
          { version: info.version, model: meta.modelKey },
          `embed: re-embedding users with ${meta.modelKey} (${meta.kind}, ${meta.dim} dimensions)`,
        );
      } catch (error) {
        this.#failed = meta.modelKey;
        this.#logger.error(
          { version: info.version, model: meta.modelKey, err: error },
          `embed: cannot load the model ${meta.modelKey} of version ${info.version}: ${(error as Error).message}; fresh interactions are not used until a version with a loadable model is published`,
        );
      }
    } catch (error) {
      this.#logger.error(
        { err: error },
        `embed: cannot read the published version: ${(error as Error).message}`,
      );
    }
    return this.#current;
  }

  async #load(meta: EmbeddingVersionMeta): Promise<UserEmbeddingModel> {
    return withDownloadedPrefix(this.#artifacts, meta.modelKey, async (dir) => {
      const model = await this.#models.load(await readArtifact(dir));
      if (!isUserEmbeddingModel(model))
        throw new InvalidArgumentError(
          'embedding.modelKey',
          `the model ${meta.modelKey} (${model.kind}) does not embed users`,
        );
      return model;
    });
  }
}

/** The `items` index version a serving version's metadata names (`vectors.items`), or null. */
function itemsIndexOf(meta: Record<string, unknown>): string | null {
  const vectors = meta.vectors as { items?: unknown } | undefined;
  return typeof vectors?.items === 'string' ? vectors.items : null;
}

/**
 * The dense item indices of `user`'s training items in `model` (none for a user it does not know)
 * followed by those of `fresh` items it knows, without repeats; and the string ids of all of them
 * plus the fresh items it does not know, to leave out of the answer.
 */
export function userItems(
  model: UserEmbeddingModel,
  user: ExternalId,
  fresh: readonly ExternalId[],
): { items: number[]; seen: Set<string> } {
  const { users, items: itemIds, userItems: csr } = model.data;
  const items: number[] = [];
  const seen = new Set<string>();
  const u = users.indexOf(user);
  if (u >= 0)
    for (let r = csr.indptr[u]; r < csr.indptr[u + 1]; r++) {
      items.push(csr.indices[r]);
      seen.add(String(itemIds.idAt(csr.indices[r])));
    }
  for (const id of fresh) {
    const key = String(id);
    if (seen.has(key)) continue;
    seen.add(key);
    const i = itemIds.indexOf(id);
    if (i >= 0) items.push(i);
  }
  return { items, seen };
}
