/**
 * Services (issue 22): one kiban.yaml configures many services, each a namespace of its own
 * (serving store, pipeline, interactions, API keys scoped `service:NAME`). The top-level
 * pipeline keys ({@link SERVICE_PIPELINE_KEYS}) are the shared defaults and the `default`
 * service's configuration; each entry of `services:` overrides some of them, deep-merged over the
 * defaults (mappings merge key by key, anything else replaces):
 *
 * ```yaml
 * data: { events: events.csv }
 * model: { kind: als, factors: 64 }
 * stores: { serving: redis://127.0.0.1:6379 }
 * services:
 *   booth:
 *     data: { events: booth.csv }
 *     model: { kind: itemknn }
 *   shop: {}            # everything from the defaults, in its own namespace
 * ```
 *
 * Unless a service overrides `stores.serving`, its serving store is derived from the default's
 * ({@link serviceServingUrl}), so that a publish in one service never changes another's version.
 *
 * @module
 */
import { dirname, join } from 'node:path';
import { SERVICE_NAME } from '../auth/principal.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parsePipelineConfig, type PipelineConfig } from '../pipeline/pipeline-config.js';
import { bundledPath } from './paths.js';

/** The service whose configuration is the top level of kiban.yaml and whose routes are `/v1/…`. */
export const DEFAULT_SERVICE_NAME = 'default';

/** The top-level keys a service entry may override (the batch pipeline's, and how its routes answer). */
export const SERVICE_PIPELINE_KEYS = Object.freeze([
  'data',
  'aggregate',
  'model',
  'evaluate',
  'candidates',
  'vectors',
  'recommend',
  'stores',
] as const);

/** One service with everything resolved. */
export interface ResolvedService {
  /** {@link DEFAULT_SERVICE_NAME} or a name matching `SERVICE_NAME`. */
  name: string;
  /** Its HTTP routes' prefix: `/v1` for the default service, else `/v1/services/NAME`. */
  prefix: string;
  /** Its pipeline configuration: the defaults with its overrides; `stores.serving` its namespace. */
  pipeline: PipelineConfig;
}

/** What {@link listServices} reads of a configuration (`KibanConfig`). */
export interface ServicesConfig {
  /** The default service's pipeline (the top-level keys). */
  pipeline: PipelineConfig;
  /** The other services' resolved pipelines, by name, in file order. */
  services: Readonly<Record<string, PipelineConfig>>;
}

/**
 * Every service of a configuration, `default` first, then the others in file order, each with
 * its resolved pipeline configuration.
 *
 * @example
 * for (const s of listServices(await loadKibanConfig({ file: 'kiban.yaml' })))
 *   console.log(s.name, s.prefix, s.pipeline.stores.serving);
 */
export function listServices(config: ServicesConfig): ResolvedService[] {
  return [
    { name: DEFAULT_SERVICE_NAME, prefix: '/v1', pipeline: config.pipeline },
    ...Object.entries(config.services).map(([name, pipeline]) => ({
      name,
      prefix: `/v1/services/${name}`,
      pipeline,
    })),
  ];
}

/**
 * The service named `name` of a configuration.
 * @throws InvalidArgumentError naming `field` when the configuration has no such service
 */
export function findService(
  config: ServicesConfig,
  name: string,
  field = '--service',
): ResolvedService {
  const found = listServices(config).find((s) => s.name === name);
  if (found === undefined)
    throw new InvalidArgumentError(
      field,
      `no service "${name}" in the configuration; known: ${listServices(config)
        .map((s) => s.name)
        .join(', ')} (add one with kiban services create ${name})`,
    );
  return found;
}

/**
 * The serving store URL of service `name` derived from the default service's `base`:
 * - `redis://HOST:PORT[/DB][?prefix=P]` → the same server, keys under `Psvc:NAME:` (`P` defaults
 *   to `kiban:`, so `kiban:svc:NAME:`);
 * - `sqlite:PATH` → `sqlite:DIR/services/NAME/serving.db`, beside `PATH` in its directory `DIR`;
 * - `memory:` and `sqlite::memory:` → the same URL, which opens a fresh store each time.
 * @throws InvalidArgumentError naming `field` for any other URL
 */
export function serviceServingUrl(base: string, name: string, field = 'stores.serving'): string {
  if (base === 'memory:' || base === 'sqlite::memory:') return base;
  if (base.startsWith('sqlite:') && base.length > 'sqlite:'.length) {
    const path = base.slice('sqlite:'.length);
    return `sqlite:${join(dirname(path), 'services', name, 'serving.db')}`;
  }
  if (base.startsWith('redis://') || base.startsWith('rediss://')) {
    const at = base.indexOf('?');
    const params = new URLSearchParams(at < 0 ? '' : base.slice(at + 1));
    params.set('prefix', `${params.get('prefix') ?? 'kiban:'}svc:${name}:`);
    // Colons left as they are (legal in a query), so the prefix reads as it is in listings.
    const query = [...params]
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v).replaceAll('%3A', ':')}`)
      .join('&');
    return `${at < 0 ? base : base.slice(0, at)}?${query}`;
  }
  throw new InvalidArgumentError(
    field,
    `"${redactUrl(base)}" is not a serving store URL a service's can be derived from; use memory:, sqlite:PATH or redis://HOST:PORT, or give the service its own stores.serving`,
  );
}

/** `url` with any password (and user name) replaced by `***`, for printing. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@?#]*)@/i, '$1***@');
}

/** Options of {@link resolveServiceConfigs}. */
export interface ResolveServicesOptions {
  /** The source of a dotted key for errors, e.g. ` (kiban.yaml:12)`, or `''`. */
  at(key: string): string;
}

/**
 * Checks the `services:` value of a configuration and resolves each entry into a pipeline
 * configuration: the entry deep-merged over `defaults` (the top-level pipeline keys as given;
 * an entry that changes `model.kind` takes none of the defaults' `model.params`), `name` the
 * service's name, the bundled demo events when no `data.events` is given, the serving store derived from
 * `base.stores.serving` unless the entry gives `stores.serving` ({@link serviceServingUrl}), and
 * no item vector index (it is shared by every service: `vectors/items` on the artifact store and
 * its changes in the metadata store).
 * @returns the services by name, in the order given; `{}` when `services` is absent or null
 * @throws InvalidArgumentError naming `config.services…` (and the key's source) when `services`
 *   is not a mapping, a name is not a service name or is `default`, an entry is not a mapping or
 *   holds a key that is not a pipeline key, an entry turns on `vectors.enabled`, or the merged
 *   configuration is invalid
 */
export function resolveServiceConfigs(
  services: unknown,
  defaults: Record<string, unknown>,
  base: PipelineConfig,
  options: ResolveServicesOptions,
): Record<string, PipelineConfig> {
  if (services === undefined || services === null) return {};
  if (!isMapping(services))
    throw new InvalidArgumentError(
      'config.services',
      `must be a mapping of service name to overrides, such as { booth: { model: { kind: itemknn } } }${options.at('services')}`,
    );
  const out: Record<string, PipelineConfig> = {};
  for (const [name, entry] of Object.entries(services)) {
    const key = `services.${name}`;
    if (name === DEFAULT_SERVICE_NAME)
      throw new InvalidArgumentError(
        `config.${key}`,
        `"default" is reserved: the top-level keys configure the default service${options.at(key)}`,
      );
    if (!SERVICE_NAME.test(name))
      throw new InvalidArgumentError(
        `config.${key}`,
        `"${name}" is not a service name: lower-case letters, digits and "-", starting with a letter, at most 32${options.at(key)}`,
      );
    if (entry !== null && entry !== undefined && !isMapping(entry))
      throw new InvalidArgumentError(
        `config.${key}`,
        `must be a mapping of pipeline keys to override (or {} to take every default)${options.at(key)}`,
      );
    const overrides = entry ?? {};
    for (const k of Object.keys(overrides))
      if (!(SERVICE_PIPELINE_KEYS as readonly string[]).includes(k))
        throw new InvalidArgumentError(
          `config.${key}.${k}`,
          `is not a key a service may override; use ${SERVICE_PIPELINE_KEYS.join(', ')}${options.at(`${key}.${k}`)}`,
        );
    const vectors = overrides.vectors;
    if (isMapping(vectors) && vectors.enabled === true)
      throw new InvalidArgumentError(
        `config.${key}.vectors.enabled`,
        `a service other than default cannot publish an item vector index yet (the index vectors/items and its changes are shared by every service); leave it false${options.at(`${key}.vectors.enabled`)}`,
      );
    const merged = deepMerge(defaults, overrides);
    // Model parameters belong to a kind: a service that changes the kind takes none of the defaults'.
    const model = overrides.model;
    if (
      isMapping(model) &&
      model.kind !== undefined &&
      model.kind !== base.model.kind &&
      model.params === undefined &&
      isMapping(merged.model)
    )
      merged.model = { ...merged.model, params: {} };
    // Runs and published versions say which service made them.
    merged.name = name;
    const stores = isMapping(overrides.stores) ? overrides.stores : {};
    merged.stores = {
      ...(isMapping(merged.stores) ? merged.stores : {}),
      serving:
        typeof stores.serving === 'string'
          ? stores.serving
          : serviceServingUrl(base.stores.serving, name, `config.${key}.stores.serving`),
    };
    merged.vectors = { ...(isMapping(merged.vectors) ? merged.vectors : {}), enabled: false };
    let pipeline: PipelineConfig;
    try {
      pipeline = parsePipelineConfig(merged);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError) || !error.field.startsWith('config.'))
        throw error;
      const inner = error.field.slice('config.'.length);
      throw new InvalidArgumentError(
        `config.${key}.${inner}`,
        `${error.reason}${options.at(`${key}.${inner}`)}`,
        { cause: error },
      );
    }
    const data = merged.data;
    if (!isMapping(data) || data.events === undefined)
      pipeline = {
        ...pipeline,
        data: { ...pipeline.data, events: bundledPath(pipeline.data.events) },
      };
    out[name] = pipeline;
  }
  return out;
}

/**
 * `overrides` merged over `defaults`: mappings key by key (recursively), anything else (lists,
 * scalars, null) replaces. Neither input is changed.
 */
export function deepMerge(
  defaults: Record<string, unknown>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    const d = out[k];
    out[k] = isMapping(d) && isMapping(v) ? deepMerge(d, v) : v;
  }
  return out;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
