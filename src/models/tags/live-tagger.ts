import { InvalidArgumentError } from '../../core/errors.js';
import { childLogger, type Logger, processLogger } from '../../core/log.js';
import { type ArtifactStore, readArtifact } from '../../storage/artifacts/artifact-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import { readTaggerPointer, type TaggerPointer } from '../../storage/tagger-pointer.js';
import { Tagger } from './tagger.js';
import { readTaggerFile } from './tagger-file.js';
import { Poller } from '../../core/poller.js';

/** Options of {@link LiveTagger}. */
export interface LiveTaggerOptions {
  /** How often the serving store is asked which tagger is published. @defaultValue 2000 */
  pollMs?: number;
  /**
   * Where model swaps (info) and problems loading a newer model (error; the old one keeps
   * answering) are reported. @defaultValue the process logger's `tags` child
   */
  logger?: Logger;
  /**
   * The artifact store that taggers published by key (pointers with `artifactKey`) are read
   * from: the server's `stores.artifacts`. Without it such a tagger cannot be loaded (reported,
   * and the current one keeps answering). @defaultValue none
   */
  artifacts?: Pick<ArtifactStore, 'get'>;
  /** Reads a model file (pointers with only a local `artifactPath`). @defaultValue {@link readTaggerFile} */
  load?: (path: string) => Promise<Tagger>;
}

/** A loaded tagger with the pointer it was published under. */
export interface LoadedTagger {
  tagger: Tagger;
  pointer: TaggerPointer;
}

/**
 * The tagger a serving process answers with, kept up to date with the published one: every
 * `pollMs` it reads the serving store's pointer and, when a different model was published,
 * loads it beside the current one and then swaps the reference in one assignment. A request
 * holds the model it started with, so none is dropped or sees a half-loaded model; a model that
 * fails to load is reported and the current one keeps answering.
 */
export class LiveTagger {
  readonly #serving: Pick<ServingStore, 'get'>;
  readonly #logger: Logger;
  readonly #artifacts: Pick<ArtifactStore, 'get'> | undefined;
  readonly #load: (path: string) => Promise<Tagger>;
  #current: LoadedTagger | null = null;
  readonly #poller: Poller<LoadedTagger | null>;
  /** The model id that last failed to load, so that it is reported once, not every poll. */
  #failed: string | null = null;

  constructor(serving: Pick<ServingStore, 'get'>, options: LiveTaggerOptions = {}) {
    this.#serving = serving;
    this.#poller = new Poller(() => this.#check(), options.pollMs ?? 2000);
    this.#logger = options.logger ?? childLogger(processLogger(), 'tags');
    this.#artifacts = options.artifacts;
    this.#load = options.load ?? readTaggerFile;
  }

  /** The tagger answering now, or null before one is published (and loaded). */
  get current(): LoadedTagger | null {
    return this.#current;
  }

  /** Starts polling (the timer does not keep the process alive). */
  start(): void {
    this.#poller.start();
  }

  /**
   * Checks the published pointer now and loads a newer model if there is one; concurrent calls
   * share one check. Never throws: problems are logged and the current model stays.
   */
  refresh(): Promise<LoadedTagger | null> {
    return this.#poller.run();
  }

  close(): void {
    this.#poller.stop();
  }

  async #check(): Promise<LoadedTagger | null> {
    try {
      const pointer = await readTaggerPointer(this.#serving);
      if (
        pointer === null ||
        pointer.modelId === this.#current?.pointer.modelId ||
        pointer.modelId === this.#failed
      )
        return this.#current;
      try {
        const tagger = await this.#loadPublished(pointer);
        this.#current = { tagger, pointer };
        this.#failed = null;
        this.#logger.info(
          { modelId: pointer.modelId, tags: tagger.labels.length },
          `tags: now answering with ${pointer.modelId} (${tagger.labels.length} tags)`,
        );
      } catch (error) {
        this.#failed = pointer.modelId;
        this.#logger.error(
          {
            modelId: pointer.modelId,
            from: pointer.artifactKey ?? pointer.artifactPath,
            err: error,
          },
          `tags: cannot load the published tagger ${pointer.modelId} from ${pointer.artifactKey ?? pointer.artifactPath}: ${(error as Error).message}; ${this.#current === null ? 'none is served' : `still serving ${this.#current.pointer.modelId}`}`,
        );
      }
    } catch (error) {
      this.#logger.error(
        { err: error },
        `tags: cannot read the published tagger: ${(error as Error).message}`,
      );
    }
    return this.#current;
  }

  /** The pointer's model: from the artifact store by key, or from its local file (older pointers). */
  async #loadPublished(pointer: TaggerPointer): Promise<Tagger> {
    if (pointer.artifactKey === undefined) return this.#load(pointer.artifactPath);
    if (this.#artifacts === undefined)
      throw new InvalidArgumentError(
        'stores.artifacts',
        `the tagger is published under the artifact key ${pointer.artifactKey} and this server has no artifact store; configure stores.artifacts as the publisher's (file:DIR or s3://…)`,
      );
    const bytes = await readArtifact(this.#artifacts, pointer.artifactKey);
    return Tagger.fromBytes(
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      pointer.artifactKey,
    );
  }
}
