import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import { type ArtifactStore, readArtifact } from '../../src/storage/artifacts/artifact-store.js';

/** One empty store and how to dispose of it (close it and remove what it wrote). */
export interface ArtifactStoreSpace {
  store: ArtifactStore;
  dispose(): Promise<void>;
}

/** A promise with its resolve function outside, to pause a stream at a chosen point. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** `count` chunks of `size` bytes, chunk `i` filled with byte `i + seed`. */
async function* chunks(count: number, size: number, seed = 0): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill((i + seed) & 0xff);
}

/** Keys no backend may accept, each with why. */
const BAD_KEYS: [string, string][] = [
  ['', 'empty'],
  ['../outside', 'steps up'],
  ['a/../../b', 'steps up inside'],
  ['a/./b', 'dot segment'],
  ['/etc/passwd', 'absolute'],
  ['a//b', 'empty segment'],
  ['a/', 'trailing slash'],
  ['.hidden', 'hidden segment'],
  ['a/.tmp', 'hidden inner segment'],
  ['a b', 'space'],
  ['a\\b', 'backslash'],
  ['caf\u00e9', 'non-ASCII'],
  ['a\u0000b', 'NUL'],
  ['x'.repeat(1025), 'too long'],
];

/**
 * The conformance suite every {@link ArtifactStore} runs: round trips of every body kind (bytes,
 * string, async iterable, Node stream, empty, several MiB in chunks), replacement, atomic put
 * (a reader during a slow put, a failed put and an aborted put all see the previous object whole;
 * concurrent puts leave one of them whole), NotFoundError and null for missing keys, idempotent
 * delete, list order and plain-string prefixes, and refusal of unsafe keys before any I/O.
 * `create` must return a new, empty store.
 */
export function describeArtifactStore(
  name: string,
  create: () => Promise<ArtifactStoreSpace>,
): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    let space: ArtifactStoreSpace | null = null;
    const open = async (): Promise<ArtifactStore> => {
      space = await create();
      return space.store;
    };
    afterEach(async () => {
      await space?.dispose();
      space = null;
    });

    it('stores bytes, strings, iterables and streams, and reads them back whole', async () => {
      const store = await open();
      const bytes = Uint8Array.from([0, 1, 2, 255, 10, 13]);
      await store.put('models/m1/weights.bin', bytes);
      await store.put('models/m1/meta.json', '{"k":"ü"}');
      await store.put('runs/r1/parts.bin', chunks(3, 4));
      await store.put('runs/r1/stream.txt', Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
      await store.put('runs/r1/empty', new Uint8Array(0));
      await store.put(
        'runs/r1/strings.txt',
        (async function* () {
          yield 'é, ';
          yield Buffer.from('then bytes');
        })(),
      );
      expect([...(await readArtifact(store, 'models/m1/weights.bin'))]).toEqual([...bytes]);
      expect((await readArtifact(store, 'models/m1/meta.json')).toString('utf8')).toBe('{"k":"ü"}');
      expect([...(await readArtifact(store, 'runs/r1/parts.bin'))]).toEqual([
        0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
      ]);
      expect((await readArtifact(store, 'runs/r1/stream.txt')).toString()).toBe('abcd');
      expect((await readArtifact(store, 'runs/r1/empty')).length).toBe(0);
      expect((await readArtifact(store, 'runs/r1/strings.txt')).toString('utf8')).toBe(
        'é, then bytes',
      );
      const info = await store.stat('models/m1/meta.json');
      expect(info?.key).toBe('models/m1/meta.json');
      expect(info?.size).toBe(Buffer.byteLength('{"k":"ü"}'));
      // Backends keep at least whole seconds; allow for that and a little clock skew.
      expect(Math.abs(info!.modified.getTime() - Date.now())).toBeLessThan(60_000);
    });

    it('streams a multi-MiB object in chunks and reads it back byte for byte', async () => {
      const store = await open();
      const size = 12 * 1024 * 1024;
      const expected = createHash('sha256');
      for await (const chunk of chunks(12, 1024 * 1024, 7)) expected.update(chunk);
      await store.put('models/big/index.bin', chunks(12, 1024 * 1024, 7));
      const hash = createHash('sha256');
      let length = 0;
      for await (const chunk of await store.get('models/big/index.bin')) {
        hash.update(chunk as Buffer);
        length += (chunk as Buffer).length;
      }
      expect(length).toBe(size);
      expect(hash.digest('hex')).toBe(expected.digest('hex'));
      expect((await store.stat('models/big/index.bin'))?.size).toBe(size);
    });

    it('replaces an object: the last put wins and the size follows', async () => {
      const store = await open();
      await store.put('a/b', 'first, longer');
      await store.put('a/b', 'second');
      expect((await readArtifact(store, 'a/b')).toString()).toBe('second');
      expect((await store.stat('a/b'))?.size).toBe(6);
      expect((await store.list('a/')).map((i) => i.key)).toEqual(['a/b']);
    });

    it('throws NotFoundError for a missing key, answers null to stat and ignores delete', async () => {
      const store = await open();
      await expect(store.get('nothing/here')).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.get('nothing/here')).rejects.toThrow(/nothing\/here/);
      expect(await store.stat('nothing/here')).toBeNull();
      await store.delete('nothing/here');
      await store.put('nothing/else', 'x');
      // A folder of other objects is not an object.
      await expect(store.get('nothing')).rejects.toBeInstanceOf(NotFoundError);
      expect(await store.stat('nothing')).toBeNull();
    });

    it('deletes one object and leaves its neighbours', async () => {
      const store = await open();
      await store.put('runs/r1/a', '1');
      await store.put('runs/r1/b', '2');
      await store.put('runs/r2/deep/c', '3');
      await store.delete('runs/r1/a');
      await store.delete('runs/r2/deep/c');
      await store.delete('runs/r1/a');
      expect((await store.list()).map((i) => i.key)).toEqual(['runs/r1/b']);
      await expect(store.get('runs/r1/a')).rejects.toBeInstanceOf(NotFoundError);
      // The folder of a deleted object can be written again.
      await store.put('runs/r2/deep/c', '4');
      expect((await readArtifact(store, 'runs/r2/deep/c')).toString()).toBe('4');
    });

    it('lists by plain string prefix, sorted by key, with sizes', async () => {
      const store = await open();
      const keys = [
        'models/als-10/model.bin',
        'models/als-2/model.bin',
        'models/als-2/a.json',
        'models/bpr-1/model.bin',
        'runs/r1/x',
        'top',
        'models-other',
      ];
      for (const [i, key] of keys.entries()) await store.put(key, 'x'.repeat(i + 1));
      expect(await store.list('nope/')).toEqual([]);
      expect((await store.list()).map((i) => i.key)).toEqual([...keys].sort());
      expect((await store.list('')).map((i) => i.key)).toEqual([...keys].sort());
      expect((await store.list('models/')).map((i) => i.key)).toEqual([
        'models/als-10/model.bin',
        'models/als-2/a.json',
        'models/als-2/model.bin',
        'models/bpr-1/model.bin',
      ]);
      expect((await store.list('models/als-')).map((i) => i.key)).toEqual([
        'models/als-10/model.bin',
        'models/als-2/a.json',
        'models/als-2/model.bin',
      ]);
      expect((await store.list('models')).map((i) => i.key)).toEqual([
        'models-other',
        'models/als-10/model.bin',
        'models/als-2/a.json',
        'models/als-2/model.bin',
        'models/bpr-1/model.bin',
      ]);
      expect((await store.list('to')).map((i) => [i.key, i.size])).toEqual([['top', 6]]);
      expect((await store.list('models/als-2/model.bin')).map((i) => [i.key, i.size])).toEqual([
        ['models/als-2/model.bin', 2],
      ]);
      for (const info of await store.list()) expect(info.modified).toBeInstanceOf(Date);
    });

    it('shows a reader the old object whole while a slow put streams, then the new one', async () => {
      const store = await open();
      await store.put('models/m/model.bin', 'old object');
      const paused = gate();
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('new ');
        await paused.opened;
        yield Buffer.from('object, longer');
      }
      const writing = store.put('models/m/model.bin', slow());
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        expect((await readArtifact(store, 'models/m/model.bin')).toString()).toBe('old object');
        expect((await store.list('models/')).map((i) => [i.key, i.size])).toEqual([
          ['models/m/model.bin', 10],
        ]);
      }
      paused.open();
      await writing;
      expect((await readArtifact(store, 'models/m/model.bin')).toString()).toBe(
        'new object, longer',
      );
      expect((await store.list('models/')).map((i) => i.key)).toEqual(['models/m/model.bin']);
    });

    it('keeps the previous object when a streamed put fails or is aborted, and leaves nothing new', async () => {
      const store = await open();
      await store.put('runs/r1/out', 'previous');
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('partial ');
        throw new Error('source broke');
      }
      await expect(store.put('runs/r1/out', failing())).rejects.toThrow(/source broke/);
      await expect(store.put('runs/r1/fresh', failing())).rejects.toThrow(/source broke/);

      const controller = new AbortController();
      const paused = gate();
      async function* endless(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('partial ');
        await paused.opened;
        yield Buffer.from('rest');
      }
      const writing = store.put('runs/r1/out', endless(), { signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.abort(new Error('caller gave up'));
      paused.open();
      await expect(writing).rejects.toThrow(/caller gave up/);
      // A source that stalls for good: the abort alone must end the put (settling at all proves
      // it: the source never yields again).
      const stalled = new AbortController();
      async function* stalling(): AsyncGenerator<Uint8Array> {
        yield Buffer.from('partial ');
        await new Promise(() => {});
      }
      const hanging = store.put('runs/r1/out', stalling(), { signal: stalled.signal });
      await new Promise((resolve) => setTimeout(resolve, 20));
      stalled.abort(new Error('stalled source'));
      await expect(hanging).rejects.toThrow(/stalled source/);
      const already = new AbortController();
      already.abort(new Error('aborted before'));
      await expect(store.put('runs/r1/out', 'never', { signal: already.signal })).rejects.toThrow(
        /aborted before/,
      );

      expect((await readArtifact(store, 'runs/r1/out')).toString()).toBe('previous');
      expect((await store.list()).map((i) => [i.key, i.size])).toEqual([['runs/r1/out', 8]]);
    });

    it('leaves one whole object after concurrent puts to one key', async () => {
      const store = await open();
      const bodies = Array.from({ length: 6 }, (_, i) =>
        new Uint8Array(64 * 1024 + i * 1000).fill(i + 1),
      );
      await Promise.all(
        bodies.map((body, i) =>
          store.put(
            'shared/key',
            i % 2 === 0 ? body : Readable.from([body.subarray(0, 100), body.subarray(100)]),
          ),
        ),
      );
      const read = await readArtifact(store, 'shared/key');
      expect(bodies.map(sha256)).toContain(sha256(read));
      expect((await store.list()).map((i) => i.key)).toEqual(['shared/key']);
    });

    it.each(BAD_KEYS)('refuses the key %j (%s) in every call, naming the field', async (key) => {
      const store = await open();
      const calls: [string, () => Promise<unknown>][] = [
        ['put', () => store.put(key, 'x')],
        ['get', () => store.get(key)],
        ['stat', () => store.stat(key)],
        ['delete', () => store.delete(key)],
      ];
      for (const [, call] of calls) {
        const error = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe('key');
      }
      expect(await store.list()).toEqual([]);
    });

    it('refuses unsafe list prefixes', async () => {
      const store = await open();
      for (const prefix of ['../', '/abs', 'a//', 'a/../b', '.x']) {
        const error = await store.list(prefix).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, prefix).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe('prefix');
      }
    });
  });
}
