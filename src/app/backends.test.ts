import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackends, openBanditStore, openMetadataStore, openServingStore } from './backends.js';

const BACKENDS = resolve(import.meta.dirname, 'backends.ts');

/**
 * Opens sqlite: backends in a fresh process and prints which driver packages it loaded. The
 * drivers are CommonJS, and Node records a CommonJS module imported from ESM in `require.cache`
 * too, so the cache lists every driver file the process loaded (better-sqlite3 is the control).
 */
const PROBE = `
import { createRequire } from 'node:module';
const { openBackends } = await import(process.argv[1]);
const backends = await openBackends(JSON.parse(process.argv[2]), { seams: ['serving', 'bandits', 'metadata'] });
await backends.close();
const drivers = new Set();
for (const file of Object.keys(createRequire(import.meta.url).cache)) {
  const m = /node_modules[\\\\/](pg|pg-pool|ioredis|better-sqlite3)[\\\\/]/.exec(file);
  if (m) drivers.add(m[1]);
}
process.stdout.write(JSON.stringify([...drivers].sort()));
`;

describe('backends', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-backends-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads only the drivers of the schemes a process opens: sqlite: loads neither pg nor ioredis', async () => {
    const urls = {
      serving: `sqlite:${join(dir, 'probe', 'serving.db')}`,
      metadata: `sqlite:${join(dir, 'probe', 'meta.db')}`,
    };
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', PROBE, BACKENDS, JSON.stringify(urls)],
      { cwd: resolve(import.meta.dirname, '../..') },
    );
    expect(JSON.parse(stdout)).toEqual(['better-sqlite3']);
  }, 30_000);

  it('opens the seams asked for, once, and closes them', async () => {
    const backends = await openBackends(
      { serving: 'memory:', metadata: `sqlite:${join(dir, 'a', 'meta.db')}` },
      { seams: ['serving', 'metadata'] },
    );
    expect(backends.workflows).toBe(backends.metadata.workflows);
    expect(backends.experiments).toBe(backends.metadata.experiments);
    expect('bandits' in backends).toBe(false);
    await backends.close();
    await backends.close();
  });

  it('names the field and the schemes to use when no scheme takes a URL', async () => {
    await expect(openServingStore('postgres://db/kiban')).rejects.toThrow(
      'stores.serving: "postgres://db/kiban" is not a serving store URL; use memory:, sqlite:PATH or redis://HOST:PORT',
    );
    await expect(openBanditStore('nope:', '--serving')).rejects.toThrow(
      '--serving: "nope:" is not a serving store URL',
    );
    await expect(openMetadataStore('memory:', '--metadata')).rejects.toThrow(
      '--metadata: "memory:" is not a metadata store URL; use sqlite:PATH or postgres://USER@HOST:PORT/DB',
    );
    await expect(openServingStore('sqlite:')).rejects.toThrow('"sqlite:" names no file');
    await expect(openServingStore('redis://127.0.0.1:1?db=2')).rejects.toThrow(
      'unknown URL option "db"; known: prefix',
    );
  });

  it('reports the field a role named for a URL when opening fails', async () => {
    await expect(
      openBackends(
        { serving: 'memory:', metadata: 'redis://x' },
        { seams: ['serving', 'metadata'], fields: { metadata: 'KIBAN_STORES_METADATA' } },
      ),
    ).rejects.toThrow('KIBAN_STORES_METADATA: "redis://x" is not a metadata store URL');
  });
});
