/**
 * Schema checks: each object against its `kubernetes-models` validator (KEDA's through
 * `@kubernetes-models/keda`), plus a strict unknown-field check derived from the same
 * validators.
 *
 * kubernetes-models 4.5 ships its schemas as compiled (ajv standalone) validator functions, not
 * as JSON schemas with `properties`, and they accept unknown properties. The strict check
 * therefore observes the validator: it runs it on a proxy of the object and records, for every
 * nested object, which property names the validator read. A compiled validator reads every
 * property its schema declares (to check it), and enumerates the keys of a map
 * (`additionalProperties`); an object whose schema declares no properties (free-form, such as
 * `x-kubernetes-preserve-unknown-fields`) is read not at all. Any key of a declared-properties
 * object that the validator never read is not in the schema.
 */
import type { K8sObject } from './render.js';

/** A finding of the schema checks, relative to the object. */
export interface SchemaFinding {
  rule: 'known-kind' | 'schema' | 'unknown-field';
  path: string;
  message: string;
}

interface ValidationFailure {
  errors?: { instancePath: string; message?: string; keyword: string; params?: unknown }[];
}

type ModelClass = { apiVersion: string; kind: string; prototype: { validate(): void } };

const API_VERSION = /^(?:([a-z0-9]+(?:[.-][a-z0-9]+)*)\/)?(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;
const models = new Map<string, Promise<ModelClass | undefined>>();

/**
 * The model class for an apiVersion and kind, imported from kubernetes-models (or from
 * @kubernetes-models/keda for `keda.sh`) through the packages' exports (`<group>/<version>/<Kind>`),
 * or undefined when neither package has it.
 */
export function findModel(apiVersion: unknown, kind: unknown): Promise<ModelClass | undefined> {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return Promise.resolve(undefined);
  const id = `${apiVersion}/${kind}`;
  let loading = models.get(id);
  if (!loading) {
    const match = API_VERSION.exec(apiVersion);
    if (!match || !KIND.test(kind)) loading = Promise.resolve(undefined);
    else {
      const [, group, version] = match;
      const specifier =
        group === 'keda.sh'
          ? `@kubernetes-models/keda/keda.sh/${version}/${kind}`
          : `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
      loading = import(specifier).then(
        (module: Record<string, unknown>) => {
          const candidate: unknown = module[kind];
          if (typeof candidate !== 'function') return undefined;
          const model = candidate as unknown as ModelClass;
          return model.apiVersion === apiVersion && model.kind === kind ? model : undefined;
        },
        () => undefined,
      );
    }
    models.set(id, loading);
  }
  return loading;
}

/** Converts an ajv instancePath (`/spec/template/0/x`) to the report's path (`spec.template[0].x`). */
export function pointerToPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(segment) ? `[${segment}]` : path === '' ? segment : `.${segment}`;
  }
  return path;
}

function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** Records which properties a validator reads on each object of a tree. */
class ReadRecorder {
  private readonly reads = new WeakMap<object, Set<string>>();
  private readonly enumerated = new WeakSet<object>();
  private readonly proxies = new WeakMap<object, object>();

  wrap(value: unknown): unknown {
    if (value === null || typeof value !== 'object') return value;
    const existing = this.proxies.get(value);
    if (existing) return existing;
    const reads = new Set<string>();
    this.reads.set(value, reads);
    const proxy = new Proxy(value, {
      get: (target, key, receiver) => {
        if (typeof key === 'string') reads.add(key);
        return this.wrap(Reflect.get(target, key, receiver));
      },
      has: (target, key) => {
        if (typeof key === 'string') reads.add(key);
        return Reflect.has(target, key);
      },
      ownKeys: (target) => {
        this.enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    this.proxies.set(value, proxy);
    return proxy;
  }

  /** Keys of `value` the validator neither read nor could accept through a map or free form. */
  unknownKeys(value: object): string[] {
    const reads = this.reads.get(value);
    if (!reads || reads.size === 0 || this.enumerated.has(value)) return [];
    return Object.keys(value).filter((key) => !reads.has(key));
  }
}

/**
 * Validates one object against its schema: unknown apiVersion/kind (`known-kind`), the
 * validator's own errors (`schema`) and properties the schema does not declare (`unknown-field`).
 */
export async function checkSchema(object: K8sObject): Promise<SchemaFinding[]> {
  const model = await findModel(object.apiVersion, object.kind);
  if (!model) {
    return [
      {
        rule: 'known-kind',
        path: 'apiVersion',
        message: `unknown apiVersion/kind ${String(object.apiVersion)}/${String(object.kind)}: no schema in kubernetes-models or @kubernetes-models/keda`,
      },
    ];
  }
  const findings: SchemaFinding[] = [];
  const recorder = new ReadRecorder();
  const badPaths = new Set<string>();
  try {
    model.prototype.validate.call(recorder.wrap(object));
  } catch (error) {
    const failure = error as ValidationFailure;
    if (!failure.errors) throw error;
    for (const issue of failure.errors) {
      const path = pointerToPath(issue.instancePath);
      badPaths.add(path);
      const missing = (issue.params as { missingProperty?: string } | undefined)?.missingProperty;
      findings.push({
        rule: 'schema',
        path: missing ? joinPath(path, missing) : path || '.',
        message: missing ? 'required by the schema but missing' : (issue.message ?? issue.keyword),
      });
    }
  }
  const walk = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object' || badPaths.has(path)) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, joinPath(path, index)));
      return;
    }
    for (const key of recorder.unknownKeys(value)) {
      findings.push({
        rule: 'unknown-field',
        path: joinPath(path, key),
        message: `unknown field "${key}": not in the ${model.apiVersion} ${model.kind} schema`,
      });
    }
    for (const [key, child] of Object.entries(value)) walk(child, joinPath(path, key));
  };
  walk(object, '');
  return findings;
}
