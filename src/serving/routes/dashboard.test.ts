import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { createServingApp } from '../create-app.js';

describe('dashboard routes', () => {
  let root: string;
  const serving = new MemoryServingStore();

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiban-web-'));
    await mkdir(join(root, 'assets'));
    await writeFile(join(root, 'index.html'), '<!doctype html><div id="root"></div>');
    await writeFile(join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(join(root, 'secret.txt'), 'not an asset');
  });
  afterAll(async () => {
    await serving.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers / and the client routes with index.html, uncached', async () => {
    const app = createServingApp({ serving, webRoot: root });
    for (const url of ['/', '/workflows', '/workflows/daily', '/runs/daily-20260101-abc']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toContain('<div id="root">');
    }
    // The API keeps its JSON 404 for unknown paths.
    expect((await app.inject({ url: '/v2/nothing' })).json().code).toBe('NOT_FOUND');
    await app.close();
  });

  it('serves hashed assets with long-lived cache headers and nothing outside assets/', async () => {
    const app = createServingApp({ serving, webRoot: root });
    const js = await app.inject({ url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.body).toBe('console.log(1)');
    expect((await app.inject({ url: '/assets/missing.js' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/../secret.txt' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/assets/%2e%2e/secret.txt' })).statusCode).toBe(404);
    await app.close();
  });

  it('says how to build the dashboard when it is not built, and serves nothing with webRoot false', async () => {
    const unbuilt = createServingApp({ serving, webRoot: join(root, 'missing') });
    const res = await unbuilt.inject({ url: '/runs/x' });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toContain('npm run build:web');
    await unbuilt.close();
    const none = createServingApp({ serving, webRoot: false });
    expect((await none.inject({ url: '/' })).statusCode).toBe(404);
    await none.close();
  });
});
