import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeArtifactStore } from '../../../test/contracts/artifact-store-contract.js';
import { startS3Server, type TestS3Server } from '../../../test/fixtures/s3-server.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import { readArtifact } from './artifact-store.js';
import { FileArtifactStore } from './file-artifact-store.js';
import { S3ArtifactStore } from './s3-artifact-store.js';

describeArtifactStore('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-artifacts-'));
  const store = new FileArtifactStore(join(dir, 'store'));
  return {
    store,
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// S3: a real S3-compatible server (s3rver) started for this file; each store gets its own prefix.
let s3: TestS3Server | undefined;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

async function openS3(prefix = `t-${randomUUID()}`): Promise<S3ArtifactStore> {
  if (s3 === undefined) throw new Error('the S3 test server is not running');
  // The smallest part size S3 allows, so the multi-MiB contract test takes the multipart path.
  return S3ArtifactStore.open({
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    credentials: s3.credentials,
    partSize: 5 * 1024 * 1024,
  });
}

describeArtifactStore('s3 (s3rver)', async () => {
  const store = await openS3();
  return {
    store,
    async dispose() {
      for (const { key } of await store.list()) await store.delete(key);
      await store.close();
    },
  };
});

describe('FileArtifactStore', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-file-artifacts-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps key a/b at ROOT/a/b, leaves no temporary files and removes emptied folders', async () => {
    const root = join(dir, 'layout');
    const store = new FileArtifactStore(root);
    await store.put('models/m1/model.bin', 'x');
    await store.put('models/m1/meta.json', '{}');
    expect((await readdir(join(root, 'models', 'm1'))).sort()).toEqual(['meta.json', 'model.bin']);
    await store.delete('models/m1/model.bin');
    await store.delete('models/m1/meta.json');
    expect(await readdir(root)).toEqual([]);
  });

  it('removes the temporary file of a failed or aborted put', async () => {
    const root = join(dir, 'failed');
    const store = new FileArtifactStore(root);
    await store.put('runs/r1/out', 'kept');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('source broke');
    }
    await expect(store.put('runs/r1/out', failing())).rejects.toThrow(/source broke/);
    const controller = new AbortController();
    async function* stalling(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial');
      await new Promise(() => {});
    }
    const hanging = store.put('runs/r1/out', stalling(), { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('gave up'));
    await expect(hanging).rejects.toThrow(/gave up/);
    expect(await readdir(join(root, 'runs', 'r1'))).toEqual(['out']);
  });

  it('never lists hidden files (puts in progress) and reads objects through an open handle', async () => {
    const root = join(dir, 'hidden');
    const store = new FileArtifactStore(root);
    await store.put('runs/r1/out', 'old');
    await writeFile(join(root, 'runs', 'r1', '.out.tmp-1-abc'), 'half');
    expect((await store.list()).map((i) => i.key)).toEqual(['runs/r1/out']);
    // A stream returned before a replacement still yields the object it opened.
    const stream = await store.get('runs/r1/out');
    await store.put('runs/r1/out', 'new');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('old');
    expect((await readArtifact(store, 'runs/r1/out')).toString()).toBe('new');
  });

  it('refuses a key that would also be a folder, either way round, with ConflictError', async () => {
    const store = new FileArtifactStore(join(dir, 'conflict'));
    await store.put('a/b', 'object');
    await expect(store.put('a/b/c', 'under an object')).rejects.toBeInstanceOf(ConflictError);
    await expect(store.put('a', 'over a folder')).rejects.toBeInstanceOf(ConflictError);
    expect((await store.list()).map((i) => i.key)).toEqual(['a/b']);
  });

  it('does not touch the file system for a refused key', async () => {
    const root = join(dir, 'refused');
    const store = new FileArtifactStore(root);
    await expect(store.put('../escaped', 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await readdir(dir)).not.toContain('escaped');
    await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('S3ArtifactStore', () => {
  it('keeps each store under its prefix in the bucket', async () => {
    const a = await openS3('team-a/kiban');
    const b = await openS3('/team-b/');
    try {
      await a.put('models/m/x', 'from a');
      await b.put('models/m/x', 'from b');
      expect((await readArtifact(a, 'models/m/x')).toString()).toBe('from a');
      expect(b.prefix).toBe('team-b/');
      expect((await b.list()).map((i) => i.key)).toEqual(['models/m/x']);
      // The whole bucket seen from the root: each object under its prefix.
      const root = await openS3('');
      const keys = (await root.list('team-')).map((i) => i.key);
      await root.close();
      expect(keys).toEqual(['team-a/kiban/models/m/x', 'team-b/models/m/x']);
    } finally {
      await a.delete('models/m/x');
      await b.delete('models/m/x');
      await a.close();
      await b.close();
    }
  });

  it('says which bucket is missing, and refuses bad options by name', async () => {
    const store = await S3ArtifactStore.open({
      bucket: 'no-such-bucket',
      endpoint: s3!.endpoint,
      credentials: s3!.credentials,
    });
    try {
      await expect(store.get('a')).rejects.toThrow(NotFoundError);
      await expect(store.put('a', 'x')).rejects.toThrow(/S3 bucket "no-such-bucket" not found/);
    } finally {
      await store.close();
    }
    await expect(S3ArtifactStore.open({ bucket: 'Bad_Bucket' })).rejects.toMatchObject({
      field: 'bucket',
    });
    await expect(
      S3ArtifactStore.open({ bucket: 'ok-bucket', prefix: 'a/../b' }),
    ).rejects.toMatchObject({ field: 'prefix' });
    await expect(
      S3ArtifactStore.open({ bucket: 'ok-bucket', endpoint: 'http://user:secret@host' }),
    ).rejects.toMatchObject({ field: 'endpoint' });
    await expect(
      S3ArtifactStore.open({ bucket: 'ok-bucket', partSize: 1024 }),
    ).rejects.toMatchObject({ field: 'partSize' });
  });

  it('does not put credentials in its errors', async () => {
    const secret = 'SECRET-never-shown-1234';
    // s3rver does not check secrets; a missing bucket makes the service answer with an error.
    const store = await S3ArtifactStore.open({
      bucket: 'missing-bucket',
      endpoint: s3!.endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: secret },
    });
    try {
      const error = await store.put('a', 'x').then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(error).not.toBeNull();
      const cause = (error as { cause?: unknown }).cause;
      expect(`${error!.message} ${String(cause)} ${JSON.stringify(cause)}`).not.toContain(secret);
    } finally {
      await store.close();
    }
  });
});
