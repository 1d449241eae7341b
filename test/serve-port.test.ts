import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
let config: string;
let taken: Server;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-serve-port-'));
  config = join(dir, 'kiban.yaml');
  await writeFile(
    config,
    `stores:\n  serving: "sqlite:${join(dir, 'serving.db')}"\n  metadata: "sqlite:${join(dir, 'meta.db')}"\n  artifacts: "${join(dir, 'models')}"\n  work: "${join(dir, 'work')}"\n`,
  );
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen({ port: 0, host: '127.0.0.1' }, resolve));
  port = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => taken.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('a port that is already taken', () => {
  for (const command of ['serve', 'demo']) {
    it(`makes kiban ${command} say which address is in use and to use --port, in one line, with exit status 2`, async () => {
      const { code, stdout, stderr } = await kiban(
        command,
        '--config',
        config,
        '--port',
        String(port),
        ...(command === 'serve' ? ['--bandit-log', join(dir, 'log')] : []),
      );
      expect(code).toBe(2);
      expect(stdout).not.toMatch(/serving on/);
      expect(stderr).toBe(
        `kiban: error: --port: 127.0.0.1:${port} is already in use; stop what is listening there or choose another port with --port (0 picks a free one)\n`,
      );
    });
  }
});
