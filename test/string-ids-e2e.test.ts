/**
 * Issue 15, item 5: external ids are strings end to end. An event log whose users and items carry
 * UUIDs, unicode, URL-special characters and numeric-looking strings ("007" and "7" are two
 * items) goes through `kiban pipeline run` with embedded SQLite stores and is served by
 * `kiban serve` over real HTTP; every answer carries the original strings.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listServingKeys } from '../src/stages/sources-serving.js';
import { openServingSource } from './fixtures/open-serving-store.js';

const run = promisify(execFile);

const UNICODE_USER = 'ユーザー1-é';
const URL_USER = 'c/d?x#y%z &+';
const UUID_ITEM = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const USERS = [
  UNICODE_USER,
  'a8098c1a-f86e-11da-bd1a-00112444be1e',
  URL_USER,
  '42',
  'émile',
  'ann',
];
const ITEMS = [
  UUID_ITEM,
  '007',
  '7',
  'アイテム-ü',
  'item one',
  '9b2c1d4e-0000-4000-8000-00000000000a',
  'x/y',
];

let dir: string;
let server: ChildProcess | undefined;
let base = '';
/** Which items each user saw (every user sees 4 of the 7, the window shifting by one). */
const seen = new Map<string, string[]>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-string-ids-'));
  const csv = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const lines = ['user,item,event,value,timestamp'];
  USERS.forEach((user, u) => {
    const items = [0, 1, 2, 3].map((j) => ITEMS[(u + j) % ITEMS.length]);
    seen.set(user, items);
    items.forEach((item, j) =>
      lines.push(
        [csv(user), csv(item), 'view', '1', String(1_700_000_000 + 60 * (u * 4 + j))].join(','),
      ),
    );
  });
  await writeFile(join(dir, 'events.csv'), `${lines.join('\n')}\n`);
  await writeFile(
    join(dir, 'kiban.yaml'),
    [
      'name: strings',
      `data: { events: "${join(dir, 'events.csv')}" }`,
      'aggregate: { eventWeights: { view: 1 }, minUserItems: 1, minItemUsers: 1 }',
      'model: { kind: itemknn }',
      'evaluate: { holdout: 0.25, k: 3 }',
      'candidates: { users: 10, related: 10, popular: 10 }',
      'stores:',
      `  serving: "sqlite:${join(dir, 'serving.db')}"`,
      `  metadata: "sqlite:${join(dir, 'meta.db')}"`,
      `  artifacts: "${join(dir, 'models')}"`,
      `  work: "${join(dir, 'work')}"`,
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('string ids, pipeline → serve', () => {
  it('runs the pipeline on UUID, unicode and numeric-looking string ids', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'pipeline',
        'run',
        '--config',
        join(dir, 'kiban.yaml'),
      ],
      { maxBuffer: 1 << 24 },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      figures: { train: { users: number; items: number } };
      sample: { user: string; item: string };
    };
    // "007" and "7" stay two items; nothing was dropped or merged.
    expect(result.figures.train).toMatchObject({ users: USERS.length, items: ITEMS.length });
    expect(USERS).toContain(result.sample.user);
    expect(ITEMS).toContain(result.sample.item);
    // The stages' serving source lists the published keys as the original strings.
    const keys = await listServingKeys(
      `sqlite:${join(dir, 'serving.db')}`,
      'user',
      openServingSource,
    );
    expect([...keys.keys].sort()).toEqual([...USERS].sort());
    expect(
      [
        ...(
          await listServingKeys(`sqlite:${join(dir, 'serving.db')}`, 'related', openServingSource)
        ).keys,
      ].sort(),
    ).toEqual([...ITEMS].sort());
  }, 120_000);

  it('serves them over HTTP: unicode and URL-encoded users, UUID items, string ids in every answer', async () => {
    server = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'serve',
        '--config',
        join(dir, 'kiban.yaml'),
        '--port',
        '0',
        '--bandit-log',
        join(dir, 'bandit-logs'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    server.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    base = await new Promise<string>((resolve, reject) => {
      let out = '';
      server!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /kiban is serving on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });

    for (const user of USERS) {
      const recs = await get(`/v1/users/${encodeURIComponent(user)}/recommendations?k=10`);
      expect(recs.status).toBe(200);
      expect(recs.body.user).toBe(user);
      expect(recs.body.fallback).toBe(false);
      const ids = recs.body.items.map((i: { id: unknown }) => i.id);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) {
        expect(typeof id).toBe('string');
        expect(ITEMS).toContain(id);
        expect(seen.get(user)).not.toContain(id);
      }
    }

    const related = await get(`/v1/items/${encodeURIComponent(UUID_ITEM)}/related?k=10`);
    expect(related.status).toBe(200);
    expect(related.body.item).toBe(UUID_ITEM);
    expect(related.body.items.length).toBeGreaterThan(0);
    for (const { id } of related.body.items) {
      expect(typeof id).toBe('string');
      expect(ITEMS).toContain(id);
      expect(id).not.toBe(UUID_ITEM);
    }
    for (const item of ['007', '7', 'x/y', 'アイテム-ü']) {
      const r = await get(`/v1/items/${encodeURIComponent(item)}/related`);
      expect(r.status).toBe(200);
      expect(r.body.item).toBe(item);
    }
    const unknown = await get(`/v1/items/${encodeURIComponent('08')}/related`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toBe('item "08" is unknown to the published model');
    const cold = await get(`/v1/users/${encodeURIComponent('ユーザー2')}/recommendations?k=2`);
    expect(cold.body).toMatchObject({ user: 'ユーザー2', fallback: true });
    expect(cold.body.items.every((i: { id: unknown }) => typeof i.id === 'string')).toBe(true);
  }, 120_000);
});
