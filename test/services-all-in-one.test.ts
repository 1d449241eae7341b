/**
 * The all-in-one role with services (issue 22): each service's pipeline runs on its own events
 * into its own serving store (here `memory:`, a fresh store per service), and the app serves each
 * at its prefix.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { startAllInOneRole } from '../src/app/roles/all-in-one.js';
import { createLogger } from '../src/core/log.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-services-aio-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 30 users, 8 of 12 items each, the items named `${prefix}0`…`${prefix}11`. */
async function events(name: string, prefix: string): Promise<string> {
  const lines = ['user,item,event,value,timestamp'];
  for (let u = 0; u < 30; u += 1)
    for (let k = 0; k < 8; k += 1)
      lines.push(`u${u},${prefix}${(u + k * 5) % 12},view,1,${1_700_000_000 + u * 100 + k}`);
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

describe('the all-in-one role with services', () => {
  it('runs and serves each service in its own namespace', async () => {
    const file = join(dir, 'kiban.yaml');
    await writeFile(
      file,
      [
        `data: { events: ${await events('shared.csv', 'd')} }`,
        'model: { kind: popularity }',
        'vectors: { enabled: false }',
        'stores:',
        '  serving: "memory:"',
        `  metadata: sqlite:${join(dir, 'meta.db')}`,
        `  artifacts: ${join(dir, 'models')}`,
        `  work: ${join(dir, 'work')}`,
        `auth: { mode: "off", pepperFile: ${join(dir, 'pepper')} }`,
        'services:',
        '  booth:',
        `    data: { events: ${await events('booth.csv', 'b')} }`,
        '',
      ].join('\n'),
    );
    const config = await loadKibanConfig({ file, env: {} });
    const role = await startAllInOneRole(config, { logger: createLogger({ level: 'warn' }) });
    try {
      expect(Object.keys(role.servicePipelines)).toEqual(['booth']);
      const boothVersion = role.servicePipelines.booth.version;
      expect(boothVersion).not.toBe(role.pipeline.version);
      const get = async (url: string) => (await role.app.inject({ method: 'GET', url })).json();
      expect(
        (await get('/v1/services')).services.map((s: { name: string; version: string }) => [
          s.name,
          s.version,
        ]),
      ).toEqual([
        ['default', role.pipeline.version],
        ['booth', boothVersion],
      ]);
      const ids = (body: { items: Array<{ id: string }> }) => body.items.map((i) => i.id);
      const booth = ids(await get('/v1/services/booth/users/u1/recommendations?k=3'));
      expect(booth.length).toBeGreaterThan(0);
      expect(booth.every((id) => id.startsWith('b'))).toBe(true);
      const shared = ids(await get('/v1/users/u1/recommendations?k=3'));
      expect(shared.length).toBeGreaterThan(0);
      expect(shared.every((id) => id.startsWith('d'))).toBe(true);
    } finally {
      await role.app.close();
      await role.close();
    }
  });
});
