/**
 * Offline validation of the Kubernetes manifests: render each Kustomize overlay, check every
 * object against its schema (strictly: unknown fields too) and against kiban's rules.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { type K8sObject, parseManifests, renderKustomization } from './render.js';
import { RULES, type Rule, type SecretKeys } from './rules.js';
import { checkSchema } from './schema.js';

/** One problem, reported as `overlay/kind/name: path: message`. */
export interface Problem {
  overlay: string;
  kind: string;
  name: string;
  /** Where in the object (`spec.template.spec.containers[0].image`); empty for the render. */
  path: string;
  message: string;
  /** The rule that found it: a kiban rule's name, or `known-kind`, `schema`, `unknown-field`. */
  rule: string;
}

/** The repository's Kustomize tree: `deploy/k8s`. */
export const DEFAULT_ROOT = resolve(import.meta.dirname, '..', 'k8s');

/** Formats a problem as one line: `overlay/kind/name: path: message [rule]`. */
export function formatProblem(problem: Problem): string {
  return `${problem.overlay}/${problem.kind}/${problem.name}: ${problem.path || '.'}: ${problem.message} [${problem.rule}]`;
}

/**
 * Reads the documented Secret keys: a YAML mapping `secrets:` of Secret name → list of keys
 * (each key a string, or a mapping with `key` or `name`). A malformed file throws, naming it.
 */
export async function loadSecretKeys(file: string): Promise<SecretKeys> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(
      error.code === 'ENOENT'
        ? `the documented Secret keys file ${file} does not exist (--secret-keys names another)`
        : `cannot read the documented Secret keys file ${file}: ${error.message}`,
    );
  });
  const document: unknown = parse(text);
  const secrets =
    document && typeof document === 'object' && 'secrets' in document
      ? (document as { secrets: unknown }).secrets
      : undefined;
  const result = new Map<string, Set<string>>();
  const keyOf = (entry: unknown): string | undefined =>
    typeof entry === 'string'
      ? entry
      : entry && typeof entry === 'object'
        ? ((entry as { key?: string; name?: string }).key ?? (entry as { name?: string }).name)
        : undefined;
  const add = (name: unknown, keys: unknown, where: string) => {
    const list = Array.isArray(keys)
      ? keys
      : keys && typeof keys === 'object' && Array.isArray((keys as { keys?: unknown }).keys)
        ? (keys as { keys: unknown[] }).keys
        : undefined;
    if (typeof name !== 'string' || !list) {
      throw new Error(`${file}: ${where}: expected a Secret name with a list of keys`);
    }
    const set = new Set<string>();
    for (const entry of list) {
      const key = keyOf(entry);
      if (typeof key !== 'string') throw new Error(`${file}: ${where}: a key is not a string`);
      set.add(key);
    }
    result.set(name, set);
  };
  if (Array.isArray(secrets)) {
    secrets.forEach((entry, index) => {
      add((entry as { name?: unknown })?.name, entry, `secrets[${index}]`);
    });
  } else if (secrets && typeof secrets === 'object') {
    for (const [name, keys] of Object.entries(secrets)) add(name, keys, `secrets.${name}`);
  } else {
    throw new Error(`${file}: expected a top-level "secrets" mapping of Secret name → keys`);
  }
  return result;
}

/** Options for {@link validateObjects}. */
export interface ValidateObjectsOptions {
  /** The overlay's name, for the report. */
  overlay: string;
  secretKeys: SecretKeys;
  /** The kiban rules to run (default {@link RULES}). */
  rules?: readonly Rule[];
}

function identify(object: K8sObject | undefined): { kind: string; name: string } {
  return {
    kind: typeof object?.kind === 'string' ? object.kind : '*',
    name: typeof object?.metadata?.name === 'string' ? object.metadata.name : '*',
  };
}

/** Validates the objects of one rendered overlay; returns every problem (none when valid). */
export async function validateObjects(
  objects: readonly K8sObject[],
  options: ValidateObjectsOptions,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const schemaFindings = await Promise.all(objects.map((object) => checkSchema(object)));
  objects.forEach((object, index) => {
    for (const finding of schemaFindings[index]!) {
      problems.push({ overlay: options.overlay, ...identify(object), ...finding });
    }
  });
  const context = { objects, secretKeys: options.secretKeys };
  for (const rule of options.rules ?? RULES) {
    for (const finding of rule.check(context)) {
      problems.push({
        overlay: options.overlay,
        ...identify(finding.object),
        path: finding.path,
        message: finding.message,
        rule: rule.name,
      });
    }
  }
  return problems;
}

/** The overlay names under `<root>/overlays`, sorted. */
export async function listOverlays(root: string): Promise<string[]> {
  const entries = await readdir(join(root, 'overlays'), { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** Options for {@link validateOverlays}. */
export interface ValidateOverlaysOptions {
  /** The Kustomize tree holding `overlays/` (default {@link DEFAULT_ROOT}). */
  root?: string;
  /** Overlay names to check (default: every directory under `<root>/overlays`). */
  overlays?: readonly string[];
  /** The documented Secret keys file (default `<root>/secret-keys.yaml`). */
  secretKeysFile?: string;
  /** The kubectl executable (default `kubectl` on PATH). */
  kubectl?: string;
}

/** One rendered overlay and its problems. */
export interface OverlayResult {
  overlay: string;
  objects: K8sObject[];
  problems: Problem[];
}

/**
 * Renders and validates overlays (rendered concurrently). A render that kustomize refuses is
 * reported as a problem of that overlay; a missing kubectl throws
 * ({@link KubectlMissingError}).
 */
export async function validateOverlays(
  options: ValidateOverlaysOptions = {},
): Promise<OverlayResult[]> {
  const root = resolve(options.root ?? DEFAULT_ROOT);
  const names = options.overlays?.length ? [...options.overlays] : await listOverlays(root);
  const secretKeys = await loadSecretKeys(options.secretKeysFile ?? join(root, 'secret-keys.yaml'));
  for (const name of names) {
    const directory = join(root, 'overlays', name);
    if (!(await stat(directory).catch(() => undefined))?.isDirectory()) {
      throw new Error(`unknown overlay "${name}": ${directory} is not a directory`);
    }
  }
  return Promise.all(
    names.map(async (overlay): Promise<OverlayResult> => {
      let objects: K8sObject[];
      try {
        const text = await renderKustomization(join(root, 'overlays', overlay), {
          kubectl: options.kubectl,
        });
        objects = parseManifests(text);
      } catch (error) {
        if ((error as Error).name === 'KubectlMissingError') throw error;
        const problem: Problem = {
          overlay,
          kind: '*',
          name: '*',
          path: '',
          message: (error as Error).message,
          rule: 'render',
        };
        return { overlay, objects: [], problems: [problem] };
      }
      return {
        overlay,
        objects,
        problems: await validateObjects(objects, { overlay, secretKeys }),
      };
    }),
  );
}
