import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../src/storage/artifacts/s3-artifact-store.js';
import { startS3Server, type TestS3Server } from './fixtures/s3-server.js';
import { syntheticTagLines } from './fixtures/tags/synthetic.js';

const MAIN = resolve('src/cli/main.ts');
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
const run = promisify(execFile);

/**
 * A tagger trained and published by `kiban tags train --publish` in one working directory, with
 * `stores.artifacts` an s3:// URL, is served by `kiban serve` started in another directory that
 * shares only the serving store and the bucket: the publisher's directory is deleted first, so
 * nothing on local disk can be what the server loads.
 */
describe('tags published to an s3:// artifact store, served from another directory', () => {
  let s3: TestS3Server;
  let root: string;
  let artifactsUrl: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;
  const dir = (name: string): string => join(root, name);

  /** `kiban ARGS` run to its end in `cwd`; never throws. */
  const kibanIn = async (cwd: string, ...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', TSX, MAIN, ...args], {
        cwd,
        env,
        maxBuffer: 1 << 24,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  /** A store config using relative paths, so each process keeps its own files in its own directory. */
  const config = (cwd: string): Promise<void> =>
    writeFile(
      join(cwd, 'kiban.yaml'),
      `stores:\n  serving: "sqlite:${join(dir('shared'), 'serving.db')}"\n  metadata: "sqlite:meta.db"\n  artifacts: "${artifactsUrl}"\nserve:\n  banditLog: bandit-logs\n`,
    );

  beforeAll(async () => {
    s3 = await startS3Server();
    root = await mkdtemp(join(tmpdir(), 'kiban-tags-s3-'));
    artifactsUrl = `s3://${s3.bucket}/tags-e2e?endpoint=${s3.endpoint}`;
    env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    for (const name of ['shared', 'publisher', 'server']) await mkdir(dir(name));
  });
  afterAll(async () => {
    if (server !== undefined && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await s3?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('the server loads the tagger by key from the bucket, and prune keeps it', async () => {
    const publisher = dir('publisher');
    await config(publisher);
    await writeFile(join(publisher, 'train.txt'), `${syntheticTagLines(400, 1).join('\n')}\n`);
    const train = await kibanIn(
      publisher,
      'tags',
      'train',
      '--input',
      'train.txt',
      '--output',
      'local.tagger',
      '--dim',
      '16',
      '--epoch',
      '10',
      '--lr',
      '0.5',
      '--threads',
      '1',
      '--publish',
      '--config',
      'kiban.yaml',
      '--json',
    );
    expect(train.code, train.stderr).toBe(0);
    const { published } = JSON.parse(train.stdout.trim().split('\n').at(-1)!) as {
      published: string;
    };
    expect(published).toMatch(/^tagger-/);
    const key = `models/${published}/model.tagger`;
    const bucket = await S3ArtifactStore.open({
      bucket: s3.bucket,
      prefix: 'tags-e2e',
      endpoint: s3.endpoint,
      credentials: s3.credentials,
    });
    try {
      expect((await bucket.list('models/')).map((o) => o.key)).toEqual([key]);
      // Nothing the publisher wrote on its disk survives: the model file, its metadata store.
      await rm(publisher, { recursive: true, force: true });

      const serverDir = dir('server');
      await config(serverDir);
      server = spawn(
        process.execPath,
        [
          '--import',
          TSX,
          MAIN,
          'serve',
          '--config',
          'kiban.yaml',
          '--port',
          '0',
          '--host',
          '127.0.0.1',
        ],
        { cwd: serverDir, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      server.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      const base = await new Promise<string>((ok, fail) => {
        let out = '';
        server!.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /kiban is serving on (http:\/\/\S+)/.exec(out);
          if (m) ok(m[1]);
        });
        server!.once('exit', (code) =>
          fail(new Error(`kiban serve exited with ${code}: ${output}`)),
        );
      });
      const suggest = () =>
        fetch(`${base}/v1/tags/suggest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: 'a cherry and a grape', k: 1 }),
        });
      const answer = await suggest();
      expect(answer.status, output).toBe(200);
      expect(answer.headers.get('x-kiban-model')).toBe(published);
      expect(await answer.json()).toEqual([{ tag: 'fruit', score: expect.any(Number) }]);
      // The server's directory holds its own files only; no tagger file was written there.
      expect(await stat(join(serverDir, 'local.tagger')).catch(() => null)).toBeNull();

      // Pruning every model but the referenced ones keeps the served tagger and drops an old model.
      await bucket.put('models/als-old/model.bin', 'x');
      const prune = await kibanIn(
        serverDir,
        'artifacts',
        'prune',
        '--config',
        'kiban.yaml',
        '--keep-models',
        '0',
        '--keep-runs',
        '0',
      );
      expect(prune.code, prune.stderr).toBe(0);
      expect(prune.stdout).toContain('models/als-old');
      expect(prune.stdout).toContain('deleted 1 group (1 object), kept 1');
      expect((await bucket.list('')).map((o) => o.key)).toEqual([key]);
      const again = await suggest();
      expect(again.status).toBe(200);
      expect(again.headers.get('x-kiban-model')).toBe(published);
    } finally {
      await bucket.close();
    }
  }, 180_000);
});
