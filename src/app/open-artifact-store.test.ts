import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type TestS3Server } from '../../test/fixtures/s3-server.js';
import { InvalidArgumentError } from '../core/errors.js';
import { readArtifact } from '../storage/artifacts/artifact-store.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { S3ArtifactStore } from '../storage/artifacts/s3-artifact-store.js';
import { DEFAULT_ARTIFACTS_URL, openArtifactStore } from './open-artifact-store.js';

const OPENER = resolve(import.meta.dirname, 'open-artifact-store.ts');

/**
 * In a fresh process whose module resolution refuses `@aws-sdk/*`, opens and uses a `file:`
 * store, then tries an `s3://` one (the control: it must reach the SDK and be refused).
 */
const PROBE = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, next) { if (s.startsWith("@aws-sdk/")) throw new Error("refused " + s); return next(s, c); }'));
const { openArtifactStore } = await import(process.argv[1]);
const store = await openArtifactStore('file:' + process.argv[2]);
await store.put('a/b', 'x');
await store.close();
let s3 = 'opened';
try { await openArtifactStore('s3://some-bucket/p?endpoint=http://127.0.0.1:9'); } catch (error) { s3 = error.message; }
process.stdout.write(JSON.stringify({ file: 'ok', s3 }));
`;

describe('openArtifactStore', () => {
  let dir = '';
  let s3: TestS3Server;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-open-artifacts-'));
    s3 = await startS3Server('kiban-open');
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens file:DIR (relative to the working directory) and file:///ABS', async () => {
    const relative = await openArtifactStore('file:some/dir');
    expect(relative).toBeInstanceOf(FileArtifactStore);
    expect((relative as FileArtifactStore).root).toBe(resolve('some/dir'));
    const absolute = await openArtifactStore(pathToFileURL(join(dir, 'abs')).href);
    expect((absolute as FileArtifactStore).root).toBe(join(dir, 'abs'));
    await absolute.put('k', 'v');
    expect((await readArtifact(absolute, 'k')).toString()).toBe('v');
    const fallback = await openArtifactStore();
    expect(DEFAULT_ARTIFACTS_URL).toBe('file:.kiban/artifacts');
    expect((fallback as FileArtifactStore).root).toBe(resolve('.kiban/artifacts'));
  });

  it('opens s3://BUCKET/PREFIX?endpoint=… against a real S3-compatible server, path-style', async () => {
    const store = await openArtifactStore(
      `s3://${s3.bucket}/kiban/prod?endpoint=${s3.endpoint}&region=eu-west-1`,
      { credentials: s3.credentials },
    );
    try {
      expect(store).toBeInstanceOf(S3ArtifactStore);
      expect((store as S3ArtifactStore).prefix).toBe('kiban/prod/');
      await store.put('models/m/model.bin', 'weights');
      expect((await readArtifact(store, 'models/m/model.bin')).toString()).toBe('weights');
      const root = await openArtifactStore(`s3://${s3.bucket}?endpoint=${s3.endpoint}`, {
        credentials: s3.credentials,
        env: { AWS_REGION: 'eu-central-1' },
      });
      expect((await root.list('kiban/')).map((i) => i.key)).toEqual([
        'kiban/prod/models/m/model.bin',
      ]);
      await root.close();
      await store.delete('models/m/model.bin');
    } finally {
      await store.close();
    }
  });

  it('refuses unknown schemes, malformed URLs and options, naming the configuration key', async () => {
    const cases: [string, RegExp][] = [
      ['ftp://host/dir', /is not an artifact store URL; use file: or s3:\/\//],
      ['.kiban/artifacts', /is not an artifact store URL/],
      ['file:', /names no folder/],
      ['s3://', /names no bucket/],
      ['s3:///prefix', /names no bucket/],
      ['s3://b/p?acl=public', /unknown s3:\/\/ URL option "acl"/],
      ['s3://Bad_Bucket/p', /bucket: "Bad_Bucket" is not an S3 bucket name/],
      ['s3://bucket/a/../b', /prefix: /],
      ['s3://bucket/p?endpoint=ftp://host', /endpoint: must be an http/],
    ];
    for (const [url, message] of cases) {
      const error = await openArtifactStore(url, { field: 'config.artifacts' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, url).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).field, url).toBe('config.artifacts');
      expect((error as Error).message, url).toMatch(message);
    }
  });

  it('refuses credentials in the URL without repeating them', async () => {
    for (const url of [
      's3://AKIAEXAMPLE:s3cr3t-value@bucket/p',
      's3://bucket/p?endpoint=http://AKIAEXAMPLE:s3cr3t-value@127.0.0.1:9000',
      's3x://AKIAEXAMPLE:s3cr3t-value@bucket',
    ]) {
      const error = (await openArtifactStore(url).then(
        () => null,
        (e: unknown) => e,
      )) as InvalidArgumentError | null;
      expect(error, url).toBeInstanceOf(InvalidArgumentError);
      expect(error!.message).not.toContain('s3cr3t-value');
      expect(error!.field).toBe('stores.artifacts');
    }
  });

  it('never loads the AWS SDK in a process that opens only file: stores', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', PROBE, OPENER, join(dir, 'probe')],
      {
        cwd: resolve(import.meta.dirname, '../..'),
      },
    );
    const result = JSON.parse(stdout) as { file: string; s3: string };
    expect(result.file).toBe('ok');
    // The control: the s3:// scheme does reach for the SDK, and the probe's resolver refuses it.
    expect(result.s3).toMatch(/refused @aws-sdk\//);
  }, 30_000);
});
