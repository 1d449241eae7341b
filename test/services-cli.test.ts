/**
 * `kiban services create|list` and `kiban pipeline run --service` (issue 22), through the CLI
 * from sources: create keeps the file's comments and refuses an existing, reserved or invalid
 * name (leaving the file as it was); list shows each service's serving store and version; a
 * service's pipeline run publishes into its own store only, reading only its API interactions.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../src/app/open-stores.js';
import { addService } from '../src/cli/services-command.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-services-cli-'));
  file = join(dir, 'kiban.yaml');
  // A tiny event log: 30 users, 8 of 12 items each.
  const lines = ['user,item,event,value,timestamp'];
  for (let u = 0; u < 30; u += 1)
    for (let k = 0; k < 8; k += 1)
      lines.push(`u${u},i${(u + k * 5) % 12},view,1,${1_700_000_000 + u * 100 + k}`);
  await writeFile(join(dir, 'events.csv'), `${lines.join('\n')}\n`);
  await writeFile(
    file,
    [
      '# the shared defaults',
      'data:',
      `  events: ${join(dir, 'events.csv')}`,
      'model:',
      '  kind: popularity # fast',
      'vectors: { enabled: false }',
      'stores:',
      `  serving: sqlite:${join(dir, 'serving.db')}`,
      `  metadata: sqlite:${join(dir, 'meta.db')}`,
      `  artifacts: ${join(dir, 'models')}`,
      `  work: ${join(dir, 'work')}`,
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kiban services', () => {
  it('creates services keeping comments, and refuses existing, reserved and invalid names', async () => {
    let result = await kiban('services', 'create', 'booth', '--config', file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('/v1/services/booth/');
    result = await kiban('services', 'create', 'shop', '--config', file, '--model', 'itemknn');
    expect(result.code, result.stderr).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# the shared defaults');
    expect(text).toContain('kind: popularity # fast');
    expect(text).toMatch(
      /services:\n(.*\n)*\s+booth: \{\}\n\s+shop:\n\s+model:\n\s+kind: itemknn\n/,
    );
    result = await kiban('services', 'create', 'booth', '--config', file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('service "booth" exists already');
    // The same function in process, for the other refusals.
    for (const [name, overrides, reason] of [
      ['default', {}, 'reserved'],
      ['Bad_Name', {}, 'not a service name'],
      // A service the configuration refuses is not left in the file.
      ['odd', { model: { kind: 'nope' } }, 'config.services.odd.model.kind'],
    ] as const) {
      const error = await addService(file, name, overrides).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain(reason);
    }
    expect(await readFile(file, 'utf8')).toBe(text);
    // A new file is made when missing, and removed again when refused.
    const fresh = join(dir, 'fresh.yaml');
    await addService(fresh, 'kiosk');
    expect(await readFile(fresh, 'utf8')).toMatch(/services:\n.*\n\s+kiosk: \{\}\n/);
    await rm(fresh);
    await expect(addService(fresh, 'kiosk', { model: { kind: 'nope' } })).rejects.toThrow(
      /services\.kiosk\.model\.kind/,
    );
    await expect(readFile(fresh, 'utf8')).rejects.toThrow(/ENOENT/);
    const help = await kiban('services', 'create', '--help');
    expect(help.stdout).toContain('kiban services create booth');
  });

  it('lists services, and runs one service pipeline into its own store with its own interactions', async () => {
    const listed = async () =>
      JSON.parse((await kiban('services', 'list', '--config', file, '--json')).stdout) as Array<{
        name: string;
        prefix: string;
        serving: string;
        version: string | null;
      }>;
    const before = await listed();
    expect(before.map((s) => [s.name, s.prefix, s.serving, s.version])).toEqual([
      ['default', '/v1', `sqlite:${join(dir, 'serving.db')}`, null],
      ['booth', '/v1/services/booth', `sqlite:${join(dir, 'services/booth/serving.db')}`, null],
      ['shop', '/v1/services/shop', `sqlite:${join(dir, 'services/shop/serving.db')}`, null],
    ]);
    const metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    try {
      const at = new Date(1_700_000_000_000);
      await metadata.interactions.forService('booth').append([
        { user: 'u1', item: 'i3', at },
        { user: 'u2', item: 'i3', at },
      ]);
      await metadata.interactions.append([
        { user: 'u1', item: 'i4', at },
        { user: 'u2', item: 'i4', at },
        { user: 'u3', item: 'i4', at },
      ]);
    } finally {
      await metadata.close();
    }
    const run = await kiban('pipeline', 'run', '--config', file, '--service', 'booth');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      service: string;
      version: string;
      figures: { aggregate: { apiRowsIn: number } };
    };
    expect(result.service).toBe('booth');
    expect(result.figures.aggregate.apiRowsIn).toBe(2);
    const after = await listed();
    expect(after.map((s) => [s.name, s.version])).toEqual([
      ['default', null],
      ['booth', result.version],
      ['shop', null],
    ]);
    const table = await kiban('services', 'list', '--config', file);
    expect(table.stdout).toMatch(/^NAME\s+PREFIX\s+SERVING\s+VERSION/);
    const unknown = await kiban('pipeline', 'run', '--config', file, '--service', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no service "nope"');
  });
});
