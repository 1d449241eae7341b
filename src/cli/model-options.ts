import { Option, type Command } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import type { ModelRegistry } from '../models/model-registry.js';

interface ParamOption {
  name: string;
  flag: string;
  kinds: string[];
  description: string;
  defaults: Map<string, unknown>;
}

/**
 * Every hyper-parameter of the models in `models` as one CLI option (`factors` → `--factors`),
 * from each definition's params schema, merged across models.
 */
function paramOptions(models: ModelRegistry): ParamOption[] {
  const byName = new Map<string, ParamOption>();
  for (const { kind, params: schema } of models.definitions()) {
    const defaults = schema.parse({}) as Record<string, unknown>;
    for (const [name, field] of Object.entries(schema.shape)) {
      const option: ParamOption = byName.get(name) ?? {
        name,
        flag: `--${kebab(name)}`,
        kinds: [],
        description: (field as { description?: string }).description ?? name,
        defaults: new Map(),
      };
      option.kinds.push(kind);
      option.defaults.set(kind, defaults[name]);
      byName.set(name, option);
    }
  }
  return [...byName.values()];
}

/**
 * Adds the hyper-parameter options of every model in `models` to `command`, with defaults in the help.
 *
 * @example
 * addModelOptions(new Command('evaluate'), builtinModels());
 */
export function addModelOptions(command: Command, models: ModelRegistry): Command {
  for (const p of paramOptions(models)) {
    const defaults = p.kinds.map((k) => `${k}: ${String(p.defaults.get(k))}`).join(', ');
    command.addOption(
      new Option(`${p.flag} <value>`, `${p.description} [${defaults}]`).helpGroup(
        'Model hyper-parameters (defaults per model):',
      ),
    );
  }
  return command;
}

/**
 * The parameters given on the command line for model `kind`, converted to the type of each
 * default. An option that `kind` does not have is refused unless `lenient` (used by `--all`).
 */
export function modelParamsFromOptions(
  kind: string,
  options: Record<string, unknown>,
  lenient: boolean,
  models: ModelRegistry,
): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const p of paramOptions(models)) {
    const raw = options[p.name];
    if (raw === undefined) continue;
    if (!p.kinds.includes(kind)) {
      if (lenient) continue;
      throw new InvalidArgumentError(
        p.flag,
        `does not apply to model "${kind}" (it applies to ${p.kinds.join(', ')})`,
      );
    }
    params[p.name] = convert(String(raw), p.defaults.get(kind), p.flag);
  }
  return params;
}

function convert(raw: string, example: unknown, flag: string): unknown {
  if (typeof example === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(flag, `"${raw}" is not a number`);
    return n;
  }
  if (typeof example === 'boolean') {
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new InvalidArgumentError(flag, `"${raw}" is not true or false`);
  }
  return raw;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
}
