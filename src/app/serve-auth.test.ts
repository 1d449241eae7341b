import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAuthPepper } from './auth-pepper.js';
import { loadKibanConfig } from './config.js';
import { isLoopbackHost, resolveServeAuth } from './serve-auth.js';

describe('resolveServeAuth', () => {
  const config = (
    env: Record<string, string>,
    flags: { key: string; value: unknown; flag: string }[] = [],
  ) => loadKibanConfig({ env, flags });

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('is off on loopback and required elsewhere when unset; KIBAN_AUTH and --auth choose', async () => {
    expect(resolveServeAuth(await config({}))).toEqual({ mode: 'off', warning: null });
    expect(resolveServeAuth(await config({ KIBAN_SERVE_HOST: '0.0.0.0' }))).toEqual({
      mode: 'required',
      warning: null,
    });
    expect(resolveServeAuth(await config({ KIBAN_AUTH: 'required' })).mode).toBe('required');
    const flagged = await config({ KIBAN_AUTH: 'required' }, [
      { key: 'auth.mode', value: 'off', flag: '--auth' },
    ]);
    expect(resolveServeAuth(flagged).mode).toBe('off');
    await expect(config({ KIBAN_AUTH: 'maybe' })).rejects.toThrow(
      /^config\.auth\.mode: .*\(KIBAN_AUTH\)/,
    );
  });

  it('refuses auth off on a non-loopback host unless --insecure, then warns', async () => {
    const off = await config({ KIBAN_SERVE_HOST: '0.0.0.0' }, [
      { key: 'auth.mode', value: 'off', flag: '--auth' },
    ]);
    expect(() => resolveServeAuth(off)).toThrow(
      /^--auth: auth is off but the server would listen on 0\.0\.0\.0/,
    );
    const insecure = await config({ KIBAN_SERVE_HOST: '0.0.0.0' }, [
      { key: 'auth.mode', value: 'off', flag: '--auth' },
      { key: 'auth.insecure', value: true, flag: '--insecure' },
    ]);
    const resolved = resolveServeAuth(insecure);
    expect(resolved.mode).toBe('off');
    expect(resolved.warning).toMatch(/^WARNING: .*authentication OFF/);
  });
});

describe('loadAuthPepper', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('generates the pepper file once, mode 0600, and reads it back; auth.pepper wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-pepper-'));
    dirs.push(dir);
    const pepperFile = join(dir, '.kiban', 'auth-pepper');
    const config = { auth: { ...(await loadKibanConfig({ env: {} })).auth, pepperFile } };
    const [a, b] = await Promise.all([loadAuthPepper(config), loadAuthPepper(config)]);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(await loadAuthPepper(config)).toBe(a);
    expect((await readFile(pepperFile, 'utf8')).trim()).toBe(a);
    expect((await stat(pepperFile)).mode & 0o777).toBe(0o600);
    const given = await loadKibanConfig({ env: { KIBAN_AUTH_PEPPER: 'x'.repeat(32) } });
    expect(await loadAuthPepper({ auth: { ...given.auth, pepperFile } })).toBe('x'.repeat(32));
    await expect(loadKibanConfig({ env: { KIBAN_AUTH_PEPPER: 'short' } })).rejects.toThrow(
      /^config\.auth\.pepper: must be at least 16 characters \(KIBAN_AUTH_PEPPER\)$/,
    );
  });
});
