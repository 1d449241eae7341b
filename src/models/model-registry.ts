import type { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import type { Interactions } from '../data/interactions.js';
import { readArtifact, type Artifact } from './artifact.js';
import type { Recommender } from './recommender.js';
import type { SearchSpace } from './search-space.js';

/** A model as read back from its saved directory: the manifest, its arrays and the training interactions. */
export type SavedModel = Artifact & { data: Interactions };

/**
 * Everything kiban needs to know about one model family: its name, its hyper-parameters and how
 * to make and restore one. Each model folder exports one (e.g. `als/als-definition.ts`), and
 * `builtin-models.ts` lists kiban's own; a definition registered from anywhere else works the
 * same way in `kiban evaluate`, the pipeline and workflow tasks that are given the registry.
 *
 * @example
 * const popularityModel: ModelDefinition = {
 *   kind: 'popularity',
 *   params: popularityParamsSchema,
 *   create: (params) => new PopularityRecommender(params),
 *   load: (saved) => PopularityRecommender.fromArtifact(saved),
 *   describe: 'most-interacted items first, the same for everyone',
 * };
 */
export interface ModelDefinition {
  /**
   * The name configurations, `--model` and saved models use: letters, digits, `-` or `_`, at
   * most 64 (it becomes part of model ids and directory names). Models `create` makes must report
   * the same `kind`, so that what they save loads back through this definition.
   */
  readonly kind: string;
  /**
   * The hyper-parameters: an object schema whose fields carry their defaults (`schema.parse({})`
   * gives them all) and a `.describe()` text; the CLI makes one `--flag` per field from it.
   */
  readonly params: z.ZodObject;
  /** A new, unfitted model; refuses unknown or out-of-range `params` with an InvalidArgumentError naming the field. */
  create(params: Record<string, unknown>): Recommender;
  /** The model a fitted instance saved (see {@link Recommender.save}), restored from what was read back. */
  load(saved: SavedModel): Recommender;
  /** One line for `--help` listings. */
  readonly describe?: string;
  /**
   * What `kiban tune` searches: a range per tunable param (names are fields of `params`). Absent
   * for a model with nothing worth tuning.
   */
  readonly searchSpace?: SearchSpace;
}

/** A model kind that no definition in the registry has; the message lists the kinds there are. */
export class UnknownModelError extends InvalidArgumentError {
  constructor(
    readonly kind: string,
    readonly known: readonly string[],
    field = 'model',
  ) {
    super(field, `unknown model "${kind}"; choose one of ${known.join(', ')}`);
  }
}

const KIND = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The model families a process knows, by kind, in registration order (the order listings and
 * `--all` use). Open: anything may {@link ModelRegistry.register} a definition; kiban's own are
 * added by `registerBuiltinModels`.
 *
 * @example
 * const models = builtinModels().register(myModel);
 * const model = models.create('als', { factors: 64 });
 * const again = await models.load('.kiban/models/als-20240101-abcd');
 */
export class ModelRegistry {
  readonly #definitions = new Map<string, ModelDefinition>();

  /** Adds `definition`; a malformed or already registered kind is an InvalidArgumentError. Returns this registry. */
  register(definition: ModelDefinition): this {
    const { kind } = definition;
    if (typeof kind !== 'string' || !KIND.test(kind))
      throw new InvalidArgumentError(
        'kind',
        `"${String(kind)}" is not a model kind: letters, digits, "-" or "_", at most 64`,
      );
    if (this.#definitions.has(kind))
      throw new InvalidArgumentError('kind', `a model of kind "${kind}" is already registered`);
    this.#definitions.set(kind, definition);
    return this;
  }

  /** Whether a model of `kind` is registered. */
  has(kind: string): boolean {
    return this.#definitions.has(kind);
  }

  /** The definition of `kind`; throws {@link UnknownModelError} (field `model`) listing the registered kinds. */
  get(kind: string): ModelDefinition {
    const definition = this.#definitions.get(kind);
    if (definition === undefined) throw new UnknownModelError(kind, this.kinds());
    return definition;
  }

  /** Every registered kind, in registration order. */
  kinds(): string[] {
    return [...this.#definitions.keys()];
  }

  /** Every registered definition, in registration order. */
  definitions(): ModelDefinition[] {
    return [...this.#definitions.values()];
  }

  /**
   * A new, unfitted model of `kind` with `params` (defaults for what is left out). Unknown kinds
   * and bad params are InvalidArgumentErrors.
   */
  create(kind: string, params: Record<string, unknown> = {}): Recommender {
    const model = this.get(kind).create(params);
    if (model.kind !== kind)
      throw new InvalidArgumentError(
        'kind',
        `the "${kind}" definition made a model of kind "${model.kind}"; saved models would not load back`,
      );
    return model;
  }

  /**
   * A saved model, restored by the definition of the kind recorded with it: `source` is the
   * directory {@link Recommender.save} wrote, or what was already read from one. A missing model
   * is a NotFoundError; a kind not registered here is an {@link UnknownModelError}.
   */
  async load(source: string | SavedModel): Promise<Recommender> {
    const saved = typeof source === 'string' ? await readArtifact(source) : source;
    return this.get(saved.kind).load(saved);
  }
}
