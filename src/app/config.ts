/**
 * `KibanConfig`: everything a kiban process is configured with, read from `kiban.yaml`, then
 * overlaid by `KIBAN_…` environment variables, then by command-line flags (later wins). Every
 * value remembers where it came from, so that an error names the key and its source:
 * `kiban.yaml:3`, `KIBAN_STORES_SERVING` or `--metadata`.
 *
 * Environment variables ({@link CONFIG_ENV}):
 *
 * | variable | key |
 * |---|---|
 * | `KIBAN_STORES_SERVING` | `stores.serving` |
 * | `KIBAN_STORES_METADATA` | `stores.metadata` |
 * | `KIBAN_STORES_ARTIFACTS` | `stores.artifacts` |
 * | `KIBAN_STORES_WORK` | `stores.work` |
 * | `KIBAN_EXECUTOR_KIND` | `executor.kind` |
 * | `KIBAN_SERVE_HOST` | `serve.host` |
 * | `KIBAN_SERVE_PORT` | `serve.port` |
 * | `KIBAN_AUTH` | `auth.mode` (`required` or `off`) |
 * | `KIBAN_FEATURES_REPO` | `features.repo` |
 * | `KIBAN_FEATURES_ONLINE` | `features.online` |
 * | `KIBAN_AUTH_PEPPER` | `auth.pepper` (never logged or echoed) |
 * | `KIBAN_OIDC_CLIENT_SECRET` | `auth.oidc.clientSecret` (never logged or echoed) |
 * | `KIBAN_SESSION_SECRET` | `auth.oidc.sessionSecret` (never logged or echoed) |
 *
 * The older flag variables (`KIBAN_METADATA_URL`, `KIBAN_REDIS_URL`, `KIBAN_SLACK_WEBHOOK_URL`,
 * `KIBAN_DASHBOARD_URL`) still feed their flags and rank as flags.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { OidcConfigSchema, ProxyConfigSchema } from '../auth/oidc-config.js';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { parsePipelineConfig, type PipelineConfig } from '../pipeline/pipeline-config.js';
import { bundledPath } from './paths.js';
import { resolveServiceConfigs } from './services.js';

/** Where `executor` sends tasks and how. */
const executorSchema = z
  .object({
    /** `inline` runs tasks in this process; `bullmq` puts them on a Redis queue for `kiban worker`. */
    kind: z.enum(['inline', 'bullmq']).default('inline'),
    redis: z.string().min(1).default('redis://127.0.0.1:6379'),
    // The BullMQ executor's DEFAULT_TASK_QUEUE and DEFAULT_QUEUE_PREFIX, written out so that
    // reading a configuration loads no Redis client.
    queue: z.string().min(1).default('kiban-tasks'),
    prefix: z.string().min(1).default('bull'),
    /** Inline executor: tasks running at once; unlimited when absent. */
    concurrency: z.int().min(1).optional(),
  })
  .strict();

/** Where run notifications go, besides the log. */
const notifiersSchema = z
  .object({
    slackWebhook: z.string().min(1).optional(),
    webhooks: z.array(z.string().min(1)).default([]),
    /** Base URL of the dashboard, for links in notifications. */
    dashboardUrl: z.string().min(1).optional(),
  })
  .strict();

/** `kiban serve` and `kiban demo`. */
const serveSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** Kept as text: the listener checks it and names `--port` (0 picks a free port). */
    port: z.union([z.string(), z.int()]).transform(String).default('8080'),
    /** Workflow YAML directory of the dashboard and workflow API; `./workflows` when it exists. */
    workflows: z.string().min(1).optional(),
    dataRoot: z.string().min(1).default('.'),
    banditLog: z.string().min(1).default('.kiban/bandit-logs'),
    /** Bandit decision lifetime in milliseconds; the bandit service's default when absent. */
    decisionTtlMs: z.int().min(1000).optional(),
    banditLimits: z.record(z.string(), z.int().min(0)).optional(),
  })
  .strict();

/**
 * Who may call the HTTP API (issue 17; `serving/auth-plugin.ts`, `app/build-authenticators.ts`).
 * Other ways in (OIDC, a trusted proxy) and rate limits add their keys here.
 */
const authSchema = z
  .object({
    /**
     * `required`: every route but the probes, the OpenAPI document and the dashboard's files
     * needs credentials with the route's scope; `off`: nothing is checked. Unset: `required`
     * when `serve.host` is not a loopback address, else `off` (see `resolveServeAuth`).
     */
    mode: z.enum(['required', 'off']).optional(),
    /** Lets anyone scrape `/metrics`; otherwise it needs `metrics:read`. */
    publicMetrics: z.boolean().default(false),
    /** Allows auth off on a non-loopback host (`--insecure`), with a loud warning. */
    insecure: z.boolean().default(false),
    /**
     * The server secret API key hashes are made with; every server and `kiban keys` sharing a
     * metadata store must use the same one. Unset: read from (or generated once into) `pepperFile`.
     */
    pepper: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Where the pepper is kept when `pepper` is unset: generated (mode 0600) when missing. */
    pepperFile: z.string().min(1).default('.kiban/auth-pepper'),
    /** How long a verified API key is reused before its record is read again (a revocation takes effect within it). */
    keyCacheTtlMs: z.int().min(0).default(10_000),
    /**
     * Requests each caller (its principal, else its peer address) may send per window; over it,
     * 429 `RATE_LIMITED` with `Retry-After`. Probes and the dashboard's files are not limited.
     * With `redis` (a `redis://` URL) the counts are kept there, shared by every server using it;
     * else in each process. Unset: no limit.
     */
    rateLimit: z
      .object({
        max: z.int().min(1),
        timeWindowMs: z.int().min(1).default(60_000),
        redis: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .optional(),
      })
      .strict()
      .optional(),
    /**
     * Bearer JWTs from an OIDC issuer, mapped to scopes by claims, and the dashboard's developer
     * login (`auth/oidc-config.ts`, {@link OidcConfigSchema}). Unset: neither.
     */
    oidc: OidcConfigSchema.optional(),
    /**
     * A trusted reverse proxy's signed identity assertion, read only from its addresses
     * (`auth/oidc-config.ts`, {@link ProxyConfigSchema}). Unset: no proxy is trusted.
     */
    proxy: ProxyConfigSchema.optional(),
  })
  .strict();

/**
 * The feature store (issue 20): with `repo`, `kiban serve` mounts `POST /v1/features/online` and
 * `POST /v1/features/push` over it (`serving/routes/features.ts`).
 */
const featuresSchema = z
  .object({
    /** Directory holding `features.yaml` (pushed rows go to its `push-log/`). Unset: no feature routes. */
    repo: z.string().min(1).optional(),
    /**
     * Online store URL (`memory:`, `sqlite:PATH`, `redis://HOST:PORT[?prefix=P]`). Unset: the one
     * that goes with `stores.serving` (`app/open-online-store.ts` `onlineStoreUrlFor`): Redis
     * when serving is Redis (prefix `P-features:`), else a SQLite file beside the serving one.
     */
    online: z.string().min(1).optional(),
  })
  .strict();

/** The top-level keys that are not the batch pipeline's (see `pipeline-config.ts`). */
const processSchema = z
  .object({
    executor: executorSchema.default(executorSchema.parse({})),
    notifiers: notifiersSchema.default(notifiersSchema.parse({})),
    serve: serveSchema.default(serveSchema.parse({})),
    auth: authSchema.default(authSchema.parse({})),
    features: featuresSchema.default(featuresSchema.parse({})),
  })
  .strict();

/**
 * One process's configuration. `stores` is the pipeline's own `stores` (the same object), so a
 * role and the pipeline it runs agree on every URL.
 */
export type KibanConfig = z.output<typeof processSchema> & {
  /** The batch pipeline: data, model, evaluation, candidates and stores. */
  pipeline: PipelineConfig;
  stores: PipelineConfig['stores'];
  /**
   * The services besides `default` (issue 22, `services:`), by name in file order, each its
   * resolved pipeline: its overrides deep-merged over the top-level pipeline keys, its serving
   * store derived from `stores.serving` unless it gives its own (see `app/services.ts`,
   * `listServices`). Empty when there is no `services:` key.
   */
  services: Readonly<Record<string, PipelineConfig>>;
  /**
   * Where each key that was given came from (`kiban.yaml:3`, `KIBAN_STORES_SERVING`,
   * `--metadata`), by dotted key; keys left at their default are absent.
   */
  sources: Readonly<Record<string, string>>;
};

/** Environment variables read by {@link loadKibanConfig}, and the key each sets. */
export const CONFIG_ENV: Readonly<Record<string, string>> = Object.freeze({
  KIBAN_STORES_SERVING: 'stores.serving',
  KIBAN_STORES_METADATA: 'stores.metadata',
  KIBAN_STORES_ARTIFACTS: 'stores.artifacts',
  KIBAN_STORES_WORK: 'stores.work',
  KIBAN_EXECUTOR_KIND: 'executor.kind',
  KIBAN_SERVE_HOST: 'serve.host',
  KIBAN_SERVE_PORT: 'serve.port',
  KIBAN_AUTH: 'auth.mode',
  KIBAN_FEATURES_REPO: 'features.repo',
  KIBAN_FEATURES_ONLINE: 'features.online',
  KIBAN_AUTH_PEPPER: 'auth.pepper',
  KIBAN_OIDC_CLIENT_SECRET: 'auth.oidc.clientSecret',
  KIBAN_SESSION_SECRET: 'auth.oidc.sessionSecret',
});

/** One value a command-line flag sets. */
export interface FlagValue {
  /** Dotted key, e.g. `stores.metadata`. */
  key: string;
  value: unknown;
  /** The flag as errors name it, e.g. `--metadata`. */
  flag: string;
  /**
   * A flag's default ranks below the file and the environment: it applies only where neither
   * gave the key.
   * @defaultValue false
   */
  isDefault?: boolean;
}

/** Options of {@link loadKibanConfig}. */
export interface LoadConfigOptions {
  /** `kiban.yaml` to read; none gives the embedded defaults. */
  file?: string;
  /** @defaultValue `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
  /** Command-line overlay, applied last. */
  flags?: readonly FlagValue[];
}

/**
 * Reads a configuration: `file` (YAML), overlaid by {@link CONFIG_ENV} variables, overlaid by
 * `flags`. Every field has a default that runs the demo on the bundled data with embedded stores.
 * @throws DataError naming the file (and line) when it cannot be read or is not YAML
 * @throws InvalidArgumentError naming the key and its source, e.g.
 *   `config.model.kind: Invalid option: … (kiban.yaml:2)`
 *
 * @example
 * const config = await loadKibanConfig({ file: 'kiban.yaml', flags: [{ key: 'stores.metadata', value: url, flag: '--metadata' }] });
 * const backends = await openBackends(config.stores, { seams: ['metadata'], fields: storeFields(config) });
 */
export async function loadKibanConfig(options: LoadConfigOptions = {}): Promise<KibanConfig> {
  const { file } = options;
  const sources: Record<string, string> = {};
  let input: Record<string, unknown> = {};
  let lineOf: (path: readonly string[]) => number | undefined = () => undefined;
  if (file !== undefined) {
    const text = await readFile(file, 'utf8').catch((cause: unknown) => {
      throw new DataError({ file }, 'cannot read the configuration file', { cause });
    });
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter });
    if (doc.errors.length > 0) {
      const error = doc.errors[0];
      throw new DataError(
        { file, line: error.linePos?.[0].line },
        `not valid YAML: ${error.message.split('\n')[0]}`,
        { cause: error },
      );
    }
    const parsed: unknown = doc.toJS() ?? {};
    // Not a mapping: the pipeline's schema reports it as it always has (`config: Invalid input…`).
    if (typeof parsed !== 'object' || Array.isArray(parsed)) parsePipelineConfig(parsed);
    input = parsed as Record<string, unknown>;
    lineOf = (path) => {
      // The deepest node that exists on the path: an unknown key's error points at its parent.
      for (let n = path.length; n >= 0; n -= 1) {
        const node = doc.getIn(path.slice(0, n), true) as
          | { range?: [number, number, number] }
          | undefined;
        if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    };
    for (const key of leafKeys(input))
      sources[key] = `${basename(file)}:${lineOf(key.split('.')) ?? 1}`;
  }
  const env = options.env ?? process.env;
  for (const [name, key] of Object.entries(CONFIG_ENV)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setIn(input, key, value);
    sources[key] = name;
  }
  for (const flag of options.flags ?? []) {
    if (flag.value === undefined || (flag.isDefault === true && sources[flag.key] !== undefined))
      continue;
    setIn(input, flag.key, flag.value);
    sources[flag.key] = flag.flag;
  }
  const at = (key: string): string => {
    const source = sources[key];
    return source === undefined ? '' : ` (${source})`;
  };

  const { executor, notifiers, serve, auth, features, services, ...rest } = input;
  const processResult = processSchema.safeParse({ executor, notifiers, serve, auth, features });
  if (!processResult.success) {
    const issue = processResult.error.issues[0];
    const key = issue.path.map(String).join('.');
    throw new InvalidArgumentError(
      `config.${key}`,
      `${issue.message}${at(nearestSource(sources, key))}`,
    );
  }
  let pipeline: PipelineConfig;
  try {
    pipeline = parsePipelineConfig(rest);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError) || !error.field.startsWith('config.')) throw error;
    const key = error.field.slice('config.'.length);
    throw new InvalidArgumentError(
      error.field,
      `${error.reason}${at(nearestSource(sources, key))}`,
      { cause: error },
    );
  }
  // Defaults point at the bundled demo data wherever kiban is run from.
  if ((rest as { data?: { events?: unknown } }).data?.events === undefined)
    pipeline = {
      ...pipeline,
      data: { ...pipeline.data, events: bundledPath(pipeline.data.events) },
    };
  // Services: their overrides over the top-level pipeline keys as given (defaults filled in after).
  // Errors point at the deepest node of the key in the file (an empty entry has no leaf source).
  const resolvedServices = resolveServiceConfigs(services, rest, pipeline, {
    at: (key) => {
      const line = file === undefined ? undefined : lineOf(key.split('.'));
      return line === undefined || file === undefined
        ? at(nearestSource(sources, key))
        : ` (${basename(file)}:${line})`;
    },
  });
  return {
    ...processResult.data,
    pipeline,
    stores: pipeline.stores,
    services: Object.freeze(resolvedServices),
    sources: Object.freeze(sources),
  };
}

/**
 * The name each store URL goes by in errors (its flag or variable, else its key and file line),
 * for `openBackends(config.stores, { fields })`.
 */
export function storeFields(config: KibanConfig): { serving: string; metadata: string } {
  const field = (key: string): string => {
    const source = config.sources[key];
    if (source === undefined) return key;
    return source.startsWith('-') || source.startsWith('KIBAN_') ? source : `${key} (${source})`;
  };
  return { serving: field('stores.serving'), metadata: field('stores.metadata') };
}

/** The source of `key` or of the nearest key above or below it that has one. */
function nearestSource(sources: Record<string, string>, key: string): string {
  const parts = key.split('.');
  for (let n = parts.length; n > 0; n -= 1) {
    const prefix = parts.slice(0, n).join('.');
    if (sources[prefix] !== undefined) return prefix;
  }
  return Object.keys(sources).find((k) => k.startsWith(`${key}.`)) ?? key;
}

/** Dotted keys of every leaf (non-object value) in `value`. */
function leafKeys(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? leafKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}

function setIn(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node = node[part] =
      next !== null && typeof next === 'object' && !Array.isArray(next)
        ? { ...(next as Record<string, unknown>) }
        : {};
  }
  node[parts[parts.length - 1]] = value;
}
