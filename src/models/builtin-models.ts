import { alsModel } from './als/als-definition.js';
import { bprModel } from './bpr/bpr-definition.js';
import { easeModel } from './ease/ease-definition.js';
import { gatModel, graphSageModel } from './graph/graph-definition.js';
import { itemKnnModel } from './itemknn/itemknn-definition.js';
import { ModelRegistry, type ModelDefinition } from './model-registry.js';
import { popularityModel } from './popularity/popularity-definition.js';

/**
 * kiban's own models, in the order listings, `--all` and reports use. Adding a model is a folder
 * with its definition plus one line here.
 */
export const BUILTIN_MODELS: readonly ModelDefinition[] = Object.freeze([
  popularityModel,
  itemKnnModel,
  alsModel,
  bprModel,
  graphSageModel,
  gatModel,
  easeModel,
]);

/**
 * Registers kiban's own models ({@link BUILTIN_MODELS}) with `registry` and returns it.
 *
 * @example
 * const models = registerBuiltinModels(new ModelRegistry()).register(myModel);
 */
export function registerBuiltinModels(registry: ModelRegistry): ModelRegistry {
  for (const definition of BUILTIN_MODELS) registry.register(definition);
  return registry;
}

/**
 * A new registry holding kiban's own models: what the CLI, the pipeline and workflow tasks use
 * unless given another. Each call makes a fresh registry, so registering into one changes no other.
 *
 * @example
 * const model = builtinModels().create('itemknn', { neighbours: 200 });
 * const saved = await builtinModels().load('models/itemknn');
 */
export function builtinModels(): ModelRegistry {
  return registerBuiltinModels(new ModelRegistry());
}
