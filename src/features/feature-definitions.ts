/**
 * Feature repository definitions (issue 20): `features.yaml` (read by {@link loadFeatureRepository}
 * and {@link parseFeatureRepository}) or the same objects in TypeScript ({@link defineFeatureRepository}),
 * validated by one code path into the resolved {@link FeatureRepository} every other part of the
 * feature store reads.
 *
 * The file format (every key but those of the minimal example is optional):
 * ```yaml
 * entities:
 *   user: { joinKey: user_id, type: string, description: A registered user }
 * sources:
 *   user_stats: { path: data/user_stats.csv, timestamp: event_time, createdTimestamp: created_at }
 *   recent: { query: "SELECT * FROM read_parquet('data/*.parquet')", timestamp: event_time }
 * featureViews:
 *   user_stats:
 *     entities: [user]
 *     source: user_stats
 *     ttl: 7d                       # 30s, 15m, 12h, 7d, 2w or seconds; 0 = never expires
 *     features: { clicks_7d: int64, spend_7d: { type: float64, description: Spend in 7 days } }
 *     owner: growth@example.com
 *     description: Per-user activity
 *     tags: { tier: gold }
 * featureServices:
 *   ranker: { features: [user_stats:clicks_7d, user_stats:*], owner: ml, description: Ranker inputs }
 * ```
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { DataError } from '../core/errors.js';
import {
  type EntityDefinition,
  FEATURE_VALUE_TYPES,
  type FeatureDefinition,
  type FeatureReference,
  type FeatureRepository,
  type FeatureServiceDefinition,
  type FeatureValueType,
  type FeatureViewDefinition,
  type SourceDefinition,
} from './feature-types.js';

/** The repository file's name inside `--repo DIR`. */
export const FEATURE_REPOSITORY_FILE = 'features.yaml';

/** Names of entities, sources, views, features and services: they become SQL column names. */
export const FEATURE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One thing wrong with a repository definition. */
export interface FeatureDefinitionProblem {
  /** The file (YAML) or undefined (TypeScript objects). */
  file?: string;
  /** 1-based line in the file; undefined for TypeScript objects. */
  line?: number;
  /** Dotted path of the offending key, e.g. `featureViews.user_stats.ttl`. */
  path: string;
  message: string;
}

/**
 * A repository failed validation; `problems` lists everything found (in file order for YAML),
 * and the message has one line per problem: `features.yaml:7: featureViews.user_stats.ttl: …`.
 */
export class FeatureDefinitionError extends DataError {
  readonly problems: readonly FeatureDefinitionProblem[];

  constructor(problems: FeatureDefinitionProblem[]) {
    super({}, problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

function formatProblem(p: FeatureDefinitionProblem): string {
  const where =
    p.file === undefined ? '' : `${p.file}${p.line === undefined ? '' : `:${p.line}`}: `;
  return `${where}${p.path === '' ? '' : `${p.path}: `}${p.message}`;
}

/**
 * Reads `features.yaml` in `dir` and validates it; relative paths resolve against `dir`.
 * @throws FeatureDefinitionError listing every problem, each with its file and line (also when
 *   the file is missing).
 */
export async function loadFeatureRepository(dir: string): Promise<FeatureRepository> {
  const root = resolve(dir);
  const file = join(root, FEATURE_REPOSITORY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new FeatureDefinitionError([
      {
        file,
        line: 1,
        path: '',
        message: `cannot read the feature repository (${(error as NodeJS.ErrnoException).code ?? String(error)}); --repo must be a directory holding ${FEATURE_REPOSITORY_FILE}`,
      },
    ]);
  }
  return parseFeatureRepository(text, { file, root });
}

/**
 * Parses and validates repository YAML. `file` names the file in messages; `root` is the
 * directory source paths are relative to (paths may not be absolute or leave it with `..`).
 * @throws FeatureDefinitionError listing every problem with its line.
 */
export function parseFeatureRepository(
  text: string,
  options: { file: string; root: string },
): FeatureRepository {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: FeatureDefinitionProblem[] = [];
  for (const e of doc.errors)
    problems.push({
      file: options.file,
      line: lines.linePos(e.pos[0]).line,
      path: '',
      message: `YAML: ${e.message.split('\n')[0]}`,
    });
  if (problems.length > 0) throw new FeatureDefinitionError(problems);
  const input: unknown = doc.toJS() ?? {};
  const found = validate(input, resolve(options.root));
  if (found.problems.length > 0)
    throw new FeatureDefinitionError(
      found.problems
        .map((p) => ({
          file: options.file,
          line: lineOf(doc, lines, p.path, p.key),
          path: pathText(p.path),
          message: p.message,
        }))
        .sort((a, b) => a.line - b.line),
    );
  return found.repository;
}

// ---------------------------------------------------------------------------------------------
// TypeScript definitions

/** An entity as written in TypeScript; see {@link EntityDefinition}. */
export interface EntityInput {
  name: string;
  joinKey: string;
  /** @defaultValue 'string' */
  type?: 'string' | 'int64';
  description?: string;
}

/** A source as written in TypeScript: exactly one of `path` (relative to the root) and `query`. */
export interface SourceInput {
  name: string;
  path?: string;
  query?: string;
  timestamp: string;
  createdTimestamp?: string;
  description?: string;
}

/** A feature view as written in TypeScript; `ttl` as in YAML (`7d`, or seconds). */
export interface FeatureViewInput {
  name: string;
  entities: string[];
  source: string;
  ttl: string | number;
  /** Name → type, or name → `{ type, description }`. */
  features: Record<string, FeatureValueType | { type: FeatureValueType; description?: string }>;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

/** A feature service as written in TypeScript: `features` are `view:feature` or `view:*`. */
export interface FeatureServiceInput {
  name: string;
  features: string[];
  owner?: string;
  description?: string;
}

/** A whole repository in TypeScript; `root` is the directory relative source paths resolve against. */
export interface FeatureRepositoryInput {
  root: string;
  entities?: EntityInput[];
  sources?: SourceInput[];
  featureViews?: FeatureViewInput[];
  featureServices?: FeatureServiceInput[];
}

/** Declares an entity (checked by {@link defineFeatureRepository}). */
export function defineEntity(entity: EntityInput): EntityInput {
  return entity;
}

/** Declares a source (checked by {@link defineFeatureRepository}). */
export function defineSource(source: SourceInput): SourceInput {
  return source;
}

/** Declares a feature view (checked by {@link defineFeatureRepository}). */
export function defineFeatureView(view: FeatureViewInput): FeatureViewInput {
  return view;
}

/** Declares a feature service (checked by {@link defineFeatureRepository}). */
export function defineFeatureService(service: FeatureServiceInput): FeatureServiceInput {
  return service;
}

/**
 * Validates a repository written in TypeScript exactly as `features.yaml` is validated, into the
 * same {@link FeatureRepository}; problems are named by object path (`featureViews.user_stats.ttl`,
 * or `featureViews[2]` for a nameless or duplicate entry) instead of a line.
 *
 * @example
 * ```ts
 * const repo = defineFeatureRepository({
 *   root: 'examples/features',
 *   entities: [defineEntity({ name: 'user', joinKey: 'user_id', type: 'int64' })],
 *   sources: [defineSource({ name: 'user_stats', path: 'data/user_stats.csv', timestamp: 'event_time' })],
 *   featureViews: [defineFeatureView({ name: 'user_stats', entities: ['user'], source: 'user_stats', ttl: '7d', features: { ratings: 'int64' } })],
 * });
 * ```
 * @throws FeatureDefinitionError listing every problem.
 */
export function defineFeatureRepository(input: FeatureRepositoryInput): FeatureRepository {
  const problems: Problem[] = [];
  const raw: Record<string, unknown> = {};
  const sections = ['entities', 'sources', 'featureViews', 'featureServices'] as const;
  if (input === null || typeof input !== 'object')
    throw new FeatureDefinitionError([{ path: '', message: 'must be an object' }]);
  for (const key of Object.keys(input))
    if (key !== 'root' && !(sections as readonly string[]).includes(key))
      problems.push({ path: [key], message: `unknown key; known: root, ${sections.join(', ')}` });
  if (typeof input.root !== 'string' || input.root === '')
    problems.push({
      path: ['root'],
      message: 'must be the directory source paths resolve against',
    });
  for (const section of sections) {
    const list: unknown = input[section];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problems.push({ path: [section], message: `must be an array, got ${describe(list)}` });
      continue;
    }
    const byName: Record<string, unknown> = {};
    list.forEach((item: unknown, i) => {
      const name = isRecord(item) ? item.name : undefined;
      if (typeof name !== 'string') {
        problems.push({ path: [`${section}[${i}]`, 'name'], message: 'must be a string' });
        return;
      }
      if (Object.hasOwn(byName, name)) {
        problems.push({ path: [`${section}[${i}]`], message: `duplicate name "${name}"` });
        return;
      }
      const { name: _, ...rest } = item as Record<string, unknown>;
      byName[name] = rest;
    });
    raw[section] = byName;
  }
  const found = validate(raw, resolve(typeof input.root === 'string' ? input.root : '.'));
  const all = [...problems, ...found.problems];
  if (all.length > 0)
    throw new FeatureDefinitionError(
      all.map((p) => ({ path: pathText(p.path), message: p.message })),
    );
  return found.repository;
}

// ---------------------------------------------------------------------------------------------
// The one validation code path

interface Problem {
  path: string[];
  message: string;
  /** Locate the key rather than its value (unknown keys, duplicate names). */
  key?: boolean;
}

const TOP_KEYS = ['entities', 'sources', 'featureViews', 'featureServices'];
const ENTITY_KEYS = ['joinKey', 'type', 'description'];
const SOURCE_KEYS = ['path', 'query', 'timestamp', 'createdTimestamp', 'description'];
const VIEW_KEYS = ['entities', 'source', 'ttl', 'features', 'owner', 'description', 'tags'];
const FEATURE_KEYS = ['type', 'description'];
const SERVICE_KEYS = ['features', 'owner', 'description'];
const ENTITY_TYPES = ['string', 'int64'] as const;
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Validates the YAML-shaped object (sections are mappings keyed by name) into a repository. */
function validate(
  input: unknown,
  root: string,
): { repository: FeatureRepository; problems: Problem[] } {
  const problems: Problem[] = [];
  const report = (path: string[], message: string, key = false) =>
    problems.push({ path, message, key });
  const repository: FeatureRepository = {
    root,
    entities: new Map(),
    sources: new Map(),
    featureViews: new Map(),
    featureServices: new Map(),
  };
  if (!isRecord(input)) {
    report([], 'the repository must be a mapping with entities, sources and featureViews');
    return { repository, problems };
  }
  unknownKeys(input, [], TOP_KEYS, report);

  // Names are compared case-insensitively too: they become SQL identifiers, which DuckDB and
  // PostgreSQL fold.
  const section = (key: string): [string, unknown][] => {
    const value = input[key];
    if (value === undefined || value === null) return [];
    if (!isRecord(value)) {
      report([key], `must be a mapping of name to definition, got ${describe(value)}`);
      return [];
    }
    const seen = new Map<string, string>();
    const entries: [string, unknown][] = [];
    for (const [name, body] of Object.entries(value)) {
      if (!FEATURE_NAME_PATTERN.test(name)) {
        report(
          [key, name],
          `"${name}" is not a safe name (letters, digits and _, not starting with a digit)`,
          true,
        );
        continue;
      }
      const other = seen.get(name.toLowerCase());
      if (other !== undefined) {
        report([key, name], `duplicate name: "${name}" and "${other}" differ only in case`, true);
        continue;
      }
      seen.set(name.toLowerCase(), name);
      entries.push([name, body]);
    }
    return entries;
  };

  const entitySection = section('entities');
  const sourceSection = section('sources');
  const viewSection = section('featureViews');
  const serviceSection = section('featureServices');
  const entityNames = new Set(entitySection.map(([n]) => n));
  const sourceNames = new Set(sourceSection.map(([n]) => n));
  const viewNames = new Set(viewSection.map(([n]) => n));
  const declaredFeatures = new Map(
    viewSection.map(([n, body]) => [
      n,
      new Set(isRecord(body) && isRecord(body.features) ? Object.keys(body.features) : []),
    ]),
  );

  for (const [name, body] of entitySection) {
    const path = ['entities', name];
    if (!isRecord(body)) {
      report(path, `must be a mapping with joinKey and type, got ${describe(body)}`);
      continue;
    }
    unknownKeys(body, path, ENTITY_KEYS, report);
    const joinKey = identifier(body.joinKey, [...path, 'joinKey'], report);
    const type = body.type ?? 'string';
    if (!(ENTITY_TYPES as readonly unknown[]).includes(type))
      report(
        [...path, 'type'],
        `${quote(type)} is not an entity key type (use ${ENTITY_TYPES.join(' or ')})`,
      );
    const description = optionalString(body.description, [...path, 'description'], report);
    if (joinKey === undefined) continue;
    const entity: EntityDefinition = {
      name,
      joinKey,
      type: type as EntityDefinition['type'],
      ...(description === undefined ? {} : { description }),
    };
    repository.entities.set(name, entity);
  }

  for (const [name, body] of sourceSection) {
    const path = ['sources', name];
    if (!isRecord(body)) {
      report(path, `must be a mapping with path (or query) and timestamp, got ${describe(body)}`);
      continue;
    }
    unknownKeys(body, path, SOURCE_KEYS, report);
    const hasPath = body.path !== undefined && body.path !== null;
    const hasQuery = body.query !== undefined && body.query !== null;
    if (hasPath === hasQuery)
      report(
        path,
        hasPath
          ? 'has both path and query; give one'
          : 'needs a path (CSV or Parquet file) or a query',
      );
    let file: string | undefined;
    if (hasPath) file = repoPath(body.path, root, [...path, 'path'], report);
    const query = hasQuery ? optionalString(body.query, [...path, 'query'], report) : undefined;
    if (query !== undefined && query.trim() === '') report([...path, 'query'], 'is empty');
    const timestamp = identifier(body.timestamp, [...path, 'timestamp'], report);
    const created =
      body.createdTimestamp === undefined
        ? undefined
        : identifier(body.createdTimestamp, [...path, 'createdTimestamp'], report);
    const description = optionalString(body.description, [...path, 'description'], report);
    if (timestamp === undefined || (file === undefined && query === undefined)) continue;
    const source: SourceDefinition = {
      name,
      ...(file === undefined ? {} : { path: file }),
      ...(query === undefined ? {} : { query }),
      timestamp,
      ...(created === undefined ? {} : { createdTimestamp: created }),
      ...(description === undefined ? {} : { description }),
    };
    repository.sources.set(name, source);
  }

  const columns = new Map<string, string>();
  for (const [name, body] of viewSection) {
    const path = ['featureViews', name];
    if (!isRecord(body)) {
      report(
        path,
        `must be a mapping with entities, source, ttl and features, got ${describe(body)}`,
      );
      continue;
    }
    unknownKeys(body, path, VIEW_KEYS, report);
    const entities: string[] = [];
    if (!Array.isArray(body.entities) || body.entities.length === 0)
      report(
        [...path, 'entities'],
        `must be a non-empty list of entity names, got ${describe(body.entities)}`,
      );
    else
      body.entities.forEach((e: unknown, i) => {
        if (typeof e !== 'string')
          report([...path, 'entities', String(i)], `must be an entity name, got ${describe(e)}`);
        else if (!entityNames.has(e))
          report([...path, 'entities', String(i)], `unknown entity "${e}"${known(entityNames)}`);
        else if (entities.includes(e))
          report([...path, 'entities', String(i)], `entity "${e}" listed twice`);
        else entities.push(e);
      });
    const joinKeys = new Set(entities.map((e) => repository.entities.get(e)?.joinKey));
    if (joinKeys.size < entities.length)
      report([...path, 'entities'], 'two of its entities share a join key');
    let source: string | undefined;
    if (typeof body.source !== 'string')
      report([...path, 'source'], `must be a source name, got ${describe(body.source)}`);
    else if (!sourceNames.has(body.source))
      report([...path, 'source'], `unknown source "${body.source}"${known(sourceNames)}`);
    else source = body.source;
    const ttlSeconds = ttl(body.ttl, [...path, 'ttl'], report);
    const owner = optionalString(body.owner, [...path, 'owner'], report);
    const description = optionalString(body.description, [...path, 'description'], report);
    const tags: Record<string, string> = {};
    if (body.tags !== undefined && body.tags !== null) {
      if (!isRecord(body.tags))
        report([...path, 'tags'], `must be a mapping of name to text, got ${describe(body.tags)}`);
      else
        for (const [k, v] of Object.entries(body.tags)) {
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
            tags[k] = String(v);
          else report([...path, 'tags', k], `must be text, got ${describe(v)}`);
        }
    }
    const features: FeatureDefinition[] = [];
    if (!isRecord(body.features) || Object.keys(body.features).length === 0)
      report(
        [...path, 'features'],
        `must be a non-empty mapping of feature name to type, got ${describe(body.features)}`,
      );
    else {
      const seen = new Map<string, string>();
      for (const [fname, fbody] of Object.entries(body.features)) {
        const fpath = [...path, 'features', fname];
        if (!FEATURE_NAME_PATTERN.test(fname)) {
          report(
            fpath,
            `"${fname}" is not a safe name (letters, digits and _, not starting with a digit)`,
            true,
          );
          continue;
        }
        const other = seen.get(fname.toLowerCase());
        if (other !== undefined) {
          report(fpath, `duplicate feature: "${fname}" and "${other}" differ only in case`, true);
          continue;
        }
        seen.set(fname.toLowerCase(), fname);
        if (joinKeysOf(entities, repository).has(fname))
          report(fpath, `"${fname}" is also a join key of the view's entities`, true);
        let type: unknown = fbody;
        let fdescription: string | undefined;
        if (isRecord(fbody)) {
          unknownKeys(fbody, fpath, FEATURE_KEYS, report);
          type = fbody.type;
          fdescription = optionalString(fbody.description, [...fpath, 'description'], report);
        }
        const typePath = isRecord(fbody) ? [...fpath, 'type'] : fpath;
        if (!(FEATURE_VALUE_TYPES as readonly unknown[]).includes(type)) {
          report(
            typePath,
            `${quote(type)} is not a feature type (use ${FEATURE_VALUE_TYPES.join(', ')})`,
          );
          continue;
        }
        const column = `${name}__${fname}`.toLowerCase();
        const clash = columns.get(column);
        if (clash !== undefined)
          report(fpath, `its column ${name}__${fname} is also that of ${clash}`, true);
        columns.set(column, `${name}:${fname}`);
        features.push({
          name: fname,
          type: type as FeatureValueType,
          ...(fdescription === undefined ? {} : { description: fdescription }),
        });
      }
    }
    if (
      source === undefined ||
      ttlSeconds === undefined ||
      entities.length === 0 ||
      features.length === 0
    )
      continue;
    const view: FeatureViewDefinition = {
      name,
      entities,
      source,
      ttlSeconds,
      features,
      ...(owner === undefined ? {} : { owner }),
      ...(description === undefined ? {} : { description }),
      tags,
    };
    repository.featureViews.set(name, view);
  }

  for (const [name, body] of serviceSection) {
    const path = ['featureServices', name];
    if (!isRecord(body)) {
      report(path, `must be a mapping with features, got ${describe(body)}`);
      continue;
    }
    unknownKeys(body, path, SERVICE_KEYS, report);
    const owner = optionalString(body.owner, [...path, 'owner'], report);
    const description = optionalString(body.description, [...path, 'description'], report);
    const refs: FeatureReference[] = [];
    const seen = new Set<string>();
    const add = (view: string, feature: string) => {
      if (seen.has(`${view}:${feature}`)) return;
      seen.add(`${view}:${feature}`);
      refs.push({ view, feature });
    };
    if (!Array.isArray(body.features) || body.features.length === 0)
      report(
        [...path, 'features'],
        `must be a non-empty list of view:feature or view:*, got ${describe(body.features)}`,
      );
    else
      body.features.forEach((ref: unknown, i) => {
        const rpath = [...path, 'features', String(i)];
        const m = typeof ref === 'string' ? /^([^:]+):([^:]+)$/.exec(ref) : null;
        if (m === null) {
          report(rpath, `${quote(ref)} is not view:feature or view:*`);
          return;
        }
        const [, view, feature] = m as unknown as [string, string, string];
        if (!viewNames.has(view)) {
          report(rpath, `unknown feature view "${view}"${known(viewNames)}`);
          return;
        }
        const definition = repository.featureViews.get(view);
        if (definition === undefined) {
          // The view itself is invalid (reported there); its feature names still count.
          const declared = declaredFeatures.get(view) ?? new Set<string>();
          if (feature !== '*' && !declared.has(feature))
            report(rpath, `unknown feature "${feature}" of view "${view}"${known(declared)}`);
          return;
        }
        if (feature === '*') for (const f of definition.features) add(view, f.name);
        else if (!definition.features.some((f) => f.name === feature))
          report(
            rpath,
            `unknown feature "${feature}" of view "${view}"${known(new Set(definition.features.map((f) => f.name)))}`,
          );
        else add(view, feature);
      });
    const service: FeatureServiceDefinition = {
      name,
      features: refs,
      ...(owner === undefined ? {} : { owner }),
      ...(description === undefined ? {} : { description }),
    };
    repository.featureServices.set(name, service);
  }
  return { repository, problems };
}

/** `featureViews.user_stats.entities[1]`: list indexes in brackets. */
function pathText(path: string[]): string {
  return path.reduce(
    (text, part) =>
      /^\d+$/.test(part) ? `${text}[${part}]` : text === '' ? part : `${text}.${part}`,
    '',
  );
}

function joinKeysOf(entities: string[], repository: FeatureRepository): Set<string> {
  return new Set(entities.flatMap((e) => repository.entities.get(e)?.joinKey ?? []));
}

type Report = (path: string[], message: string, key?: boolean) => void;

function unknownKeys(
  body: Record<string, unknown>,
  path: string[],
  allowed: string[],
  report: Report,
) {
  for (const key of Object.keys(body))
    if (!allowed.includes(key))
      report([...path, key], `unknown key; known: ${allowed.join(', ')}`, true);
}

function identifier(value: unknown, path: string[], report: Report): string | undefined {
  if (typeof value !== 'string') {
    report(path, `must be a column name, got ${describe(value)}`);
    return undefined;
  }
  if (!FEATURE_NAME_PATTERN.test(value)) {
    report(
      path,
      `"${value}" is not a safe column name (letters, digits and _, not starting with a digit)`,
    );
    return undefined;
  }
  return value;
}

function optionalString(value: unknown, path: string[], report: Report): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    report(path, `must be text, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

function repoPath(
  value: unknown,
  root: string,
  path: string[],
  report: Report,
): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    report(path, `must be a file path relative to the repository, got ${describe(value)}`);
    return undefined;
  }
  if (
    isAbsolute(value) ||
    /^[A-Za-z]:[\\/]/.test(value) ||
    /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
  ) {
    report(path, `"${value}" is absolute; write it relative to the repository directory`);
    return undefined;
  }
  if (value.split(/[\\/]/).includes('..')) {
    report(path, `"${value}" leaves the repository directory (no ".." allowed)`);
    return undefined;
  }
  return join(root, value);
}

function ttl(value: unknown, path: string[], report: Report): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text);
    if (/^(\d+[smhdw])+$/.test(text)) {
      let total = 0;
      for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g))
        total += Number(n) * (TTL_UNITS[unit as string] ?? 0);
      if (Number.isSafeInteger(total)) return total;
    }
  }
  report(
    path,
    value === undefined
      ? 'is required (use 30s, 15m, 12h, 7d or seconds; 0 = never expires)'
      : `${quote(value)} is not a duration (use 30s, 15m, 12h, 7d or seconds)`,
  );
  return undefined;
}

function known(names: Set<string>): string {
  return names.size === 0 ? ' (none defined)' : `; known: ${[...names].join(', ')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function quote(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : describe(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * The 1-based line of `path` in `doc`: of its key when `key`, else of its value; when `path` is
 * not in the document (a required key left out), the line of its nearest ancestor's key.
 */
function lineOf(doc: Document, lines: LineCounter, path: string[], key = false): number {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : (doc.getIn(path.slice(0, n - 1), true) as unknown);
    const last = path[n - 1] as string;
    let node: Node | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === last,
      );
      // A missing child (a required key left out) is named at its parent's key.
      const atKey = key || n < path.length || !isNode(pair?.value);
      if (pair !== undefined) node = (atKey ? pair.key : pair.value) as Node | undefined;
    } else if (isSeq(parent)) {
      const item = parent.items[Number(last)];
      if (isNode(item)) node = item;
    }
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}
