import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKibanConfig, storeFields } from './config.js';

describe('loadKibanConfig', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-config-'));
    file = join(dir, 'kiban.yaml');
    await writeFile(
      file,
      'name: nightly\nstores:\n  serving: sqlite:file.db\n  metadata: sqlite:meta.db\nexecutor:\n  kind: bullmq\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the embedded defaults without a file', async () => {
    const config = await loadKibanConfig({ env: {} });
    expect(config.stores).toEqual({
      serving: 'sqlite:.kiban/serving.db',
      metadata: 'sqlite:.kiban/meta.db',
      artifacts: '.kiban/models',
      work: '.kiban/work',
    });
    expect(config.executor.kind).toBe('inline');
    expect(config.serve).toMatchObject({ host: '127.0.0.1', port: '8080', dataRoot: '.' });
    expect(config.auth).toEqual({
      publicMetrics: false,
      insecure: false,
      pepperFile: '.kiban/auth-pepper',
      keyCacheTtlMs: 10_000,
    });
    expect(config.sources).toEqual({});
  });

  it('overlays the file with the environment, then flags, remembering each source', async () => {
    const config = await loadKibanConfig({
      file,
      env: { KIBAN_STORES_SERVING: 'redis://r:6379', KIBAN_STORES_METADATA: 'postgres://db/k' },
      flags: [
        { key: 'stores.metadata', value: 'sqlite:flag.db', flag: '--metadata' },
        { key: 'executor.kind', value: 'inline', flag: '--executor', isDefault: true },
      ],
    });
    expect(config.pipeline.name).toBe('nightly');
    expect(config.stores.serving).toBe('redis://r:6379');
    expect(config.pipeline.stores).toBe(config.stores);
    expect(config.stores.metadata).toBe('sqlite:flag.db');
    // A flag's default ranks below the file.
    expect(config.executor.kind).toBe('bullmq');
    expect(config.sources).toMatchObject({
      name: 'kiban.yaml:1',
      'stores.serving': 'KIBAN_STORES_SERVING',
      'stores.metadata': '--metadata',
      'executor.kind': 'kiban.yaml:6',
    });
    expect(storeFields(config)).toEqual({
      serving: 'KIBAN_STORES_SERVING',
      metadata: '--metadata',
    });
  });

  it('names the key and its source in errors', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'name: x\nmodel:\n  kind: deep-magic\n');
    await expect(loadKibanConfig({ file: bad, env: {} })).rejects.toThrow(
      /^config\.model\.kind: Invalid option.*\(bad\.yaml:3\)$/,
    );
    await expect(loadKibanConfig({ env: { KIBAN_EXECUTOR_KIND: 'k8s' } })).rejects.toThrow(
      /^config\.executor\.kind: .*\(KIBAN_EXECUTOR_KIND\)$/,
    );
    await expect(
      loadKibanConfig({
        env: {},
        flags: [{ key: 'serve.dataRoot', value: '', flag: '--data-root' }],
      }),
    ).rejects.toThrow(/^config\.serve\.dataRoot: .*\(--data-root\)$/);
    await writeFile(bad, 'serve:\n  hots: 1\n');
    await expect(loadKibanConfig({ file: bad, env: {} })).rejects.toThrow(
      /^config\.serve: Unrecognized key: "hots" \(bad\.yaml:2\)$/,
    );
    await writeFile(bad, 'name: [x\n');
    await expect(loadKibanConfig({ file: bad, env: {} })).rejects.toThrow(
      /bad\.yaml.*not valid YAML/,
    );
  });
});
