import type { Tagger } from './tagger.js';
import { readTaggerFile } from './tagger-file.js';
import { readTaggerPointer, type TaggerPointer } from '../../storage/tagger-pointer.js';
import type { ServingStore } from '../../storage/serving-store.js';

/** Options of {@link LiveTagger}. */
export interface LiveTaggerOptions {
  /** How often the serving store is asked which tagger is published. @defaultValue 2000 */
  pollMs?: number;
  /** Where problems loading a newer model are reported (the old one keeps answering). @defaultValue stderr */
  log?: (line: string) => void;
  /** Reads a model file. @defaultValue {@link readTaggerFile} */
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
  readonly #pollMs: number;
  readonly #log: (line: string) => void;
  readonly #load: (path: string) => Promise<Tagger>;
  #current: LoadedTagger | null = null;
  #refreshing: Promise<LoadedTagger | null> | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The model id that last failed to load, so that it is reported once, not every poll. */
  #failed: string | null = null;

  constructor(serving: Pick<ServingStore, 'get'>, options: LiveTaggerOptions = {}) {
    this.#serving = serving;
    this.#pollMs = options.pollMs ?? 2000;
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#load = options.load ?? readTaggerFile;
  }

  /** The tagger answering now, or null before one is published (and loaded). */
  get current(): LoadedTagger | null {
    return this.#current;
  }

  /** Starts polling (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== null) return;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#pollMs);
    this.#timer.unref();
  }

  /**
   * Checks the published pointer now and loads a newer model if there is one; concurrent calls
   * share one check. Never throws: problems are logged and the current model stays.
   */
  refresh(): Promise<LoadedTagger | null> {
    this.#refreshing ??= this.#check().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
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
        const tagger = await this.#load(pointer.artifactPath);
        this.#current = { tagger, pointer };
        this.#failed = null;
        this.#log(`tags: now answering with ${pointer.modelId} (${tagger.labels.length} tags)`);
      } catch (error) {
        this.#failed = pointer.modelId;
        this.#log(
          `tags: cannot load the published tagger ${pointer.modelId} from ${pointer.artifactPath}: ${(error as Error).message}; ${this.#current === null ? 'none is served' : `still serving ${this.#current.pointer.modelId}`}`,
        );
      }
    } catch (error) {
      this.#log(`tags: cannot read the published tagger: ${(error as Error).message}`);
    }
    return this.#current;
  }
}
