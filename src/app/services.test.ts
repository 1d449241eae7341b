import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { loadKibanConfig } from './config.js';
import { deepMerge, findService, listServices, redactUrl, serviceServingUrl } from './services.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-services-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string, env: Record<string, string> = {}) {
  const file = join(dir, `kiban-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return loadKibanConfig({ file, env });
}

async function refusal(text: string): Promise<InvalidArgumentError> {
  const error = await load(text).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

const BASE = [
  'data:',
  '  events: shared.csv',
  'aggregate:',
  '  minUserItems: 3',
  'model:',
  '  kind: als',
  '  params: { factors: 16 }',
  'candidates: { users: 20, related: 10 }',
  'stores:',
  '  serving: sqlite:/srv/kiban/serving.db',
  '  metadata: sqlite:/srv/kiban/meta.db',
].join('\n');

describe('services in kiban.yaml', () => {
  it('deep-merges each service over the top-level pipeline keys, with its own serving store', async () => {
    const config = await load(
      `${BASE}
services:
  booth:
    data: { events: booth.csv }
    model: { kind: itemknn }
    candidates: { users: 5 }
  shop: {}
  tiny:
`,
    );
    expect(Object.keys(config.services)).toEqual(['booth', 'shop', 'tiny']);
    const booth = config.services.booth;
    expect(booth.data.events).toBe('booth.csv');
    // A changed kind takes none of the defaults' params; other keys merge key by key.
    expect(booth.model).toMatchObject({ kind: 'itemknn', params: {} });
    expect(booth.candidates).toMatchObject({ users: 5, related: 10 });
    expect(booth.aggregate.minUserItems).toBe(3);
    expect(booth.name).toBe('booth');
    expect(booth.vectors.enabled).toBe(false);
    expect(booth.stores).toEqual({
      ...config.stores,
      serving: 'sqlite:/srv/kiban/services/booth/serving.db',
    });
    const shop = config.services.shop;
    expect(shop.model).toMatchObject({ kind: 'als', params: { factors: 16 } });
    expect(shop.data.events).toBe('shared.csv');
    expect(config.services.tiny.stores.serving).toBe('sqlite:/srv/kiban/services/tiny/serving.db');
    // The default service is the top level, untouched.
    expect(config.pipeline.model.kind).toBe('als');
    expect(config.stores.serving).toBe('sqlite:/srv/kiban/serving.db');
    expect(listServices(config).map((s) => [s.name, s.prefix, s.pipeline.stores.serving])).toEqual([
      ['default', '/v1', 'sqlite:/srv/kiban/serving.db'],
      ['booth', '/v1/services/booth', 'sqlite:/srv/kiban/services/booth/serving.db'],
      ['shop', '/v1/services/shop', 'sqlite:/srv/kiban/services/shop/serving.db'],
      ['tiny', '/v1/services/tiny', 'sqlite:/srv/kiban/services/tiny/serving.db'],
    ]);
    expect(findService(config, 'shop').pipeline).toBe(shop);
    expect(() => findService(config, 'nope')).toThrow(/no service "nope".*default, booth, shop/);
  });

  it('keeps a serving store a service gives, and derives from the environment overlay', async () => {
    const config = await load(
      `${BASE}
services:
  booth: { stores: { serving: "memory:" } }
  shop: {}
`,
      { KIBAN_STORES_SERVING: 'redis://127.0.0.1:6379/2?prefix=prod:' },
    );
    expect(config.services.booth.stores.serving).toBe('memory:');
    expect(config.services.shop.stores.serving).toBe(
      'redis://127.0.0.1:6379/2?prefix=prod:svc:shop:',
    );
    expect(config.services.shop.stores.metadata).toBe('sqlite:/srv/kiban/meta.db');
  });

  it('has no services without the key, and takes the bundled events by default', async () => {
    expect((await load('model: { kind: popularity }\n')).services).toEqual({});
    const config = await load('services:\n  booth: {}\n');
    expect(config.services.booth.data.events).toBe(config.pipeline.data.events);
    expect(config.services.booth.data.events).toMatch(/events\.csv\.gz$/);
  });

  it('names the key and its line in errors', async () => {
    let error = await refusal(`${BASE}\nservices:\n  default: {}\n`);
    expect(error.field).toBe('config.services.default');
    expect(error.message).toMatch(/reserved.*\(kiban-\w+\.yaml:13\)/);
    error = await refusal(`${BASE}\nservices:\n  Booth: {}\n`);
    expect(error.field).toBe('config.services.Booth');
    expect(error.message).toMatch(/not a service name/);
    error = await refusal(`${BASE}\nservices:\n  - booth\n`);
    expect(error.field).toBe('config.services');
    expect(error.message).toMatch(/must be a mapping.*yaml:13\)/);
    error = await refusal(`${BASE}\nservices:\n  booth: 3\n`);
    expect(error.field).toBe('config.services.booth');
    error = await refusal(`${BASE}\nservices:\n  booth:\n    serve: { port: 1 }\n`);
    expect(error.field).toBe('config.services.booth.serve');
    expect(error.message).toMatch(
      /data, aggregate, model, evaluate, candidates, vectors, recommend, stores/,
    );
    expect(error.message).toMatch(/yaml:14\)/);
    error = await refusal(`${BASE}\nservices:\n  booth:\n    model:\n      kind: nope\n`);
    expect(error.field).toBe('config.services.booth.model.kind');
    expect(error.message).toMatch(/yaml:15\)/);
    error = await refusal(`${BASE}\nservices:\n  booth:\n    candidates: { users: 0 }\n`);
    expect(error.field).toBe('config.services.booth.candidates.users');
    error = await refusal(`${BASE}\nservices:\n  booth:\n    vectors: { enabled: true }\n`);
    expect(error.field).toBe('config.services.booth.vectors.enabled');
    error = await refusal('stores: { serving: "postgres://x" }\nservices:\n  booth: {}\n');
    expect(error.field).toBe('config.services.booth.stores.serving');
  });
});

describe('serviceServingUrl', () => {
  it('derives a namespace per scheme', () => {
    expect(serviceServingUrl('sqlite:.kiban/serving.db', 'booth')).toBe(
      'sqlite:.kiban/services/booth/serving.db',
    );
    expect(serviceServingUrl('sqlite:serving.db', 'b')).toBe('sqlite:services/b/serving.db');
    expect(serviceServingUrl('memory:', 'booth')).toBe('memory:');
    expect(serviceServingUrl('sqlite::memory:', 'booth')).toBe('sqlite::memory:');
    expect(serviceServingUrl('redis://127.0.0.1:6379', 'booth')).toBe(
      'redis://127.0.0.1:6379?prefix=kiban:svc:booth:',
    );
    expect(serviceServingUrl('rediss://:pw@h:6380/1?prefix=p:', 'booth')).toBe(
      'rediss://:pw@h:6380/1?prefix=p:svc:booth:',
    );
    expect(() => serviceServingUrl('file:x', 'booth', 'f')).toThrow(InvalidArgumentError);
  });

  it('redacts credentials and merges mappings only', () => {
    expect(redactUrl('redis://user:secret@h:6379/0?prefix=a')).toBe(
      'redis://***@h:6379/0?prefix=a',
    );
    expect(redactUrl('sqlite:.kiban/serving.db')).toBe('sqlite:.kiban/serving.db');
    expect(deepMerge({ a: { b: 1, c: [1] }, d: 1 }, { a: { c: [2] }, e: null })).toEqual({
      a: { b: 1, c: [2] },
      d: 1,
      e: null,
    });
  });
});
