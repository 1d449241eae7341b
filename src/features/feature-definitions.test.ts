import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../core/errors.js';
import {
  defineEntity,
  defineFeatureRepository,
  defineFeatureService,
  defineFeatureView,
  defineSource,
  FeatureDefinitionError,
  loadFeatureRepository,
  parseFeatureRepository,
} from './feature-definitions.js';

const ROOT = '/srv/repo';
const MINIMAL = `entities:
  user: { joinKey: user_id, type: string }
sources:
  user_stats: { path: data/user_stats.csv, timestamp: event_time }
featureViews:
  user_stats:
    entities: [user]
    source: user_stats
    ttl: 7d
    features: { clicks_7d: int64, spend_7d: float64 }
`;

const parse = (text: string) => parseFeatureRepository(text, { file: 'features.yaml', root: ROOT });

/** The error's lines (one per problem), or a failure when `text` parses. */
function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(FeatureDefinitionError);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).code).toBe('INVALID_DATA');
    return (error as Error).message.split('\n');
  }
  throw new Error('expected the repository to be refused');
}

describe('parseFeatureRepository', () => {
  it('accepts the minimal repository of the issue as written', () => {
    const repo = parse(MINIMAL);
    expect(repo.root).toBe(ROOT);
    expect([...repo.entities.values()]).toEqual([
      { name: 'user', joinKey: 'user_id', type: 'string' },
    ]);
    expect([...repo.sources.values()]).toEqual([
      { name: 'user_stats', path: join(ROOT, 'data/user_stats.csv'), timestamp: 'event_time' },
    ]);
    expect([...repo.featureViews.values()]).toEqual([
      {
        name: 'user_stats',
        entities: ['user'],
        source: 'user_stats',
        ttlSeconds: 7 * 86_400,
        features: [
          { name: 'clicks_7d', type: 'int64' },
          { name: 'spend_7d', type: 'float64' },
        ],
        tags: {},
      },
    ]);
    expect(repo.featureServices.size).toBe(0);
  });

  it('reads the extended format: descriptions, owners, tags, created time, queries, services with view:*', () => {
    const repo = parse(`entities:
  user: { joinKey: user_id, type: int64, description: A user }
  movie: { joinKey: movie_id }
sources:
  user_stats: { path: data/*.parquet, timestamp: event_time, createdTimestamp: created_at, description: Daily }
  movie_q: { query: "SELECT * FROM read_csv('m.csv')", timestamp: ts }
featureViews:
  user_stats:
    entities: [user]
    source: user_stats
    ttl: 1h30m
    features:
      clicks: { type: int64, description: Clicks }
      spend: float64
    owner: growth
    description: Per-user activity
    tags: { tier: gold, version: 2 }
  movie_stats: { entities: [movie], source: movie_q, ttl: 0, features: { views: int32 } }
featureServices:
  ranker:
    features: [user_stats:spend, movie_stats:*, user_stats:*]
    owner: ml
    description: Ranker inputs
`);
    expect(repo.entities.get('user')).toEqual({
      name: 'user',
      joinKey: 'user_id',
      type: 'int64',
      description: 'A user',
    });
    expect(repo.entities.get('movie')?.type).toBe('string');
    expect(repo.sources.get('user_stats')).toEqual({
      name: 'user_stats',
      path: join(ROOT, 'data/*.parquet'),
      timestamp: 'event_time',
      createdTimestamp: 'created_at',
      description: 'Daily',
    });
    expect(repo.sources.get('movie_q')?.query).toBe("SELECT * FROM read_csv('m.csv')");
    expect(repo.sources.get('movie_q')?.path).toBeUndefined();
    const view = repo.featureViews.get('user_stats');
    expect(view?.ttlSeconds).toBe(5400);
    expect(view?.features).toEqual([
      { name: 'clicks', type: 'int64', description: 'Clicks' },
      { name: 'spend', type: 'float64' },
    ]);
    expect(view?.tags).toEqual({ tier: 'gold', version: '2' });
    expect(view?.owner).toBe('growth');
    expect(repo.featureViews.get('movie_stats')?.ttlSeconds).toBe(0);
    // Explicit features first, each once, in the order written.
    expect(repo.featureServices.get('ranker')).toEqual({
      name: 'ranker',
      features: [
        { view: 'user_stats', feature: 'spend' },
        { view: 'movie_stats', feature: 'views' },
        { view: 'user_stats', feature: 'clicks' },
      ],
      owner: 'ml',
      description: 'Ranker inputs',
    });
  });

  it.each([
    ['30s', 30],
    ['15m', 900],
    ['12h', 43_200],
    ['7d', 604_800],
    ['2w', 1_209_600],
    ['3600', 3600],
    [86400, 86_400],
  ])('reads ttl %s as %i seconds', (ttl, seconds) => {
    const text = MINIMAL.replace('ttl: 7d', `ttl: ${ttl}`);
    expect(parse(text).featureViews.get('user_stats')?.ttlSeconds).toBe(seconds);
  });

  it('reports every problem at once, each with its file, line and path, in line order', () => {
    const text = `entities:
  user: { joinKey: user_id, type: strin }
  User: { joinKey: uid }
  item: { joinKey: 1x, colour: red }
sources:
  both: { path: a.csv, query: "select 1", timestamp: event_time }
  neither: { timestamp: event_time }
  up: { path: ../secrets.csv, timestamp: event_time }
  abs: { path: /etc/passwd, timestamp: event_time }
  sneaky: { path: data/../../x.csv, timestamp: event_time }
featureViews:
  user_stats:
    entities: [user, nobody]
    source: nope
    ttl: 7x
    features: { clicks_7d: int64, spend: float65, 9bad: int64, user_id: string }
    owner: [a, b]
    colour: blue
  bad-name: { entities: [user], source: both, ttl: 1d, features: { a: int64 } }
featureServices:
  svc: { features: [user_stats:clicks_7d, user_stats:nope, other:x, junk] }
  empty: { features: [] }
extra: 1
`;
    expect(problems(text)).toEqual([
      'features.yaml:2: entities.user.type: "strin" is not an entity key type (use string or int64)',
      'features.yaml:3: entities.User: duplicate name: "User" and "user" differ only in case',
      'features.yaml:4: entities.item.colour: unknown key; known: joinKey, type, description',
      'features.yaml:4: entities.item.joinKey: "1x" is not a safe column name (letters, digits and _, not starting with a digit)',
      'features.yaml:6: sources.both: has both path and query; give one',
      'features.yaml:7: sources.neither: needs a path (CSV or Parquet file) or a query',
      'features.yaml:8: sources.up.path: "../secrets.csv" leaves the repository directory (no ".." allowed)',
      'features.yaml:9: sources.abs.path: "/etc/passwd" is absolute; write it relative to the repository directory',
      'features.yaml:10: sources.sneaky.path: "data/../../x.csv" leaves the repository directory (no ".." allowed)',
      'features.yaml:13: featureViews.user_stats.entities[1]: unknown entity "nobody"; known: user, item',
      'features.yaml:14: featureViews.user_stats.source: unknown source "nope"; known: both, neither, up, abs, sneaky',
      'features.yaml:15: featureViews.user_stats.ttl: "7x" is not a duration (use 30s, 15m, 12h, 7d or seconds)',
      'features.yaml:16: featureViews.user_stats.features.spend: "float65" is not a feature type (use int64, int32, float64, float32, bool, string, timestamp)',
      'features.yaml:16: featureViews.user_stats.features.9bad: "9bad" is not a safe name (letters, digits and _, not starting with a digit)',
      'features.yaml:16: featureViews.user_stats.features.user_id: "user_id" is also a join key of the view\'s entities',
      'features.yaml:17: featureViews.user_stats.owner: must be text, got a list',
      'features.yaml:18: featureViews.user_stats.colour: unknown key; known: entities, source, ttl, features, owner, description, tags',
      'features.yaml:19: featureViews.bad-name: "bad-name" is not a safe name (letters, digits and _, not starting with a digit)',
      'features.yaml:21: featureServices.svc.features[1]: unknown feature "nope" of view "user_stats"; known: clicks_7d, spend, 9bad, user_id',
      'features.yaml:21: featureServices.svc.features[2]: unknown feature view "other"; known: user_stats',
      'features.yaml:21: featureServices.svc.features[3]: "junk" is not view:feature or view:*',
      'features.yaml:22: featureServices.empty.features: must be a non-empty list of view:feature or view:*, got a list',
      'features.yaml:23: extra: unknown key; known: entities, sources, featureViews, featureServices',
    ]);
  });

  it('names the key line of a block mapping, and the line of a missing required field’s parent', () => {
    const text = `${MINIMAL}  other:
    entities: [user]
    source: user_stats
    features:
      a: int64
`;
    expect(problems(text)).toEqual([
      'features.yaml:11: featureViews.other.ttl: is required (use 30s, 15m, 12h, 7d or seconds; 0 = never expires)',
    ]);
  });

  it('refuses output columns that collide and duplicate YAML keys', () => {
    expect(
      problems(`entities:
  user: { joinKey: user_id }
sources:
  s: { path: s.csv, timestamp: t }
featureViews:
  a__b: { entities: [user], source: s, ttl: 1d, features: { c: int64 } }
  a: { entities: [user], source: s, ttl: 1d, features: { b__c: int64, C: int64 } }
`),
    ).toEqual([
      'features.yaml:7: featureViews.a.features.b__c: its column a__b__c is also that of a__b:c',
    ]);
    const dup = problems(`${MINIMAL}entities:\n  x: { joinKey: x }\n`);
    expect(dup).toHaveLength(1);
    expect(dup[0]).toMatch(/^features\.yaml:11: YAML: Map keys must be unique/);
  });

  it('reports YAML syntax errors with their line, and a non-mapping file', () => {
    expect(problems('entities:\n  user: { joinKey: user_id\nsources: {}\n')[0]).toMatch(
      /^features\.yaml:[23]: YAML: /,
    );
    expect(problems('- a\n- b\n')).toEqual([
      'features.yaml:1: the repository must be a mapping with entities, sources and featureViews',
    ]);
  });
});

describe('loadFeatureRepository', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('reads features.yaml in the directory, resolving paths against it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-features-'));
    dirs.push(dir);
    await writeFile(join(dir, 'features.yaml'), MINIMAL);
    const repo = await loadFeatureRepository(dir);
    expect(repo.root).toBe(resolve(dir));
    expect(repo.sources.get('user_stats')?.path).toBe(join(dir, 'data/user_stats.csv'));
  });

  it('names the missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-features-'));
    dirs.push(dir);
    await expect(loadFeatureRepository(dir)).rejects.toThrow(
      `${join(dir, 'features.yaml')}:1: cannot read the feature repository (ENOENT)`,
    );
  });

  it('names the file in each problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-features-'));
    dirs.push(dir);
    await writeFile(join(dir, 'features.yaml'), MINIMAL.replace('7d', '7x'));
    await expect(loadFeatureRepository(dir)).rejects.toThrow(
      `${join(dir, 'features.yaml')}:9: featureViews.user_stats.ttl: "7x" is not a duration`,
    );
  });

  it('ships example data that make-data.mjs reproduces byte for byte, under 200 KB', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-features-'));
    dirs.push(dir);
    await promisify(execFile)(process.execPath, ['examples/features/make-data.mjs', dir]);
    let bytes = 0;
    for (const file of ['data/user_stats.csv', 'data/movie_stats.csv', 'entities.csv']) {
      const shipped = await readFile(join('examples/features', file), 'utf8');
      expect(await readFile(join(dir, file), 'utf8'), file).toBe(shipped);
      bytes += (await stat(join('examples/features', file))).size;
    }
    expect(bytes).toBeLessThan(200_000);
  });

  it('loads the bundled example repository', async () => {
    const repo = await loadFeatureRepository('examples/features');
    expect([...repo.featureViews.keys()]).toEqual(['user_stats', 'movie_stats']);
    expect(repo.featureServices.get('user_activity')?.features.map((f) => f.feature)).toEqual([
      'ratings_1d',
      'mean_rating_1d',
      'ratings_total',
    ]);
  });
});

describe('defineFeatureRepository', () => {
  it('gives the same repository as the equivalent YAML', () => {
    const repo = defineFeatureRepository({
      root: ROOT,
      entities: [defineEntity({ name: 'user', joinKey: 'user_id', type: 'string' })],
      sources: [
        defineSource({ name: 'user_stats', path: 'data/user_stats.csv', timestamp: 'event_time' }),
      ],
      featureViews: [
        defineFeatureView({
          name: 'user_stats',
          entities: ['user'],
          source: 'user_stats',
          ttl: '7d',
          features: { clicks_7d: 'int64', spend_7d: 'float64' },
        }),
      ],
    });
    expect(repo).toEqual(parse(MINIMAL));
  });

  it('resolves services and reports problems by object path, duplicates by index', () => {
    const define = () =>
      defineFeatureRepository({
        root: ROOT,
        entities: [
          defineEntity({ name: 'user', joinKey: 'user_id' }),
          defineEntity({ name: 'user', joinKey: 'uid' }),
        ],
        sources: [
          defineSource({ name: 's', path: '../s.csv', timestamp: 'event_time' }),
          defineSource({ name: 'q', query: 'select 1', timestamp: 'event_time' }),
        ],
        featureViews: [
          defineFeatureView({
            name: 'v',
            entities: ['user'],
            source: 'q',
            ttl: '7x',
            features: { a: 'int64' },
          }),
          defineFeatureView({
            name: 'w',
            entities: ['user'],
            source: 'missing',
            ttl: 60,
            features: { b: 'float64' },
          }),
        ],
        featureServices: [defineFeatureService({ name: 'svc', features: ['w:c'] })],
      });
    expect(define).toThrow(FeatureDefinitionError);
    expect(() => define()).toThrow(
      [
        'entities[1]: duplicate name "user"',
        'sources.s.path: "../s.csv" leaves the repository directory (no ".." allowed)',
        'featureViews.v.ttl: "7x" is not a duration (use 30s, 15m, 12h, 7d or seconds)',
        'featureViews.w.source: unknown source "missing"; known: s, q',
        'featureServices.svc.features[0]: unknown feature "c" of view "w"; known: b',
      ].join('\n'),
    );
  });
});
