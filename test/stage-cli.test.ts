import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuiltCli, kibanBuilt } from './fixtures/built-cli.js';
import { kiban } from './fixtures/kiban-cli.js';

describe('kiban stage run', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-stage-cli-'));
    await mkdir(join(dir, 'posts'));
    for (let p = 0; p < 3; p++) {
      const lines = Array.from({ length: 20 }, (_, i) =>
        JSON.stringify({ id: p * 20 + i, text: i % 2 === 0 ? 'red fox' : 'blue fox jumps' }),
      );
      await writeFile(join(dir, 'posts', `part-${p}.jsonl`), `${lines.join('\n')}\n`);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a user stage on 2 + 2 threads and writes its sink', async () => {
    const out = join(dir, 'counts');
    const r = await kiban(
      'stage',
      'run',
      'test/fixtures/stages/stages.ts',
      '--export',
      'wordCount',
      '--source',
      `jsonl:${join(dir, 'posts')}`,
      '--sink',
      `jsonl:${out}`,
      '--num-preprocessors',
      '2',
      '--count',
      '2',
      '--json',
    );
    expect(r.stderr.split('\n').filter((l) => /error/i.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      runner: string;
      records: { read: number };
      partitions: number;
    };
    expect(result).toMatchObject({ runner: 'threads', records: { read: 60 }, partitions: 3 });
    const rows = (
      await Promise.all((await readdir(out)).map((f) => readFile(join(out, f), 'utf8')))
    )
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { word: string; count: number });
    const merged: Record<string, number> = {};
    for (const { word, count } of rows) merged[word] = (merged[word] ?? 0) + count;
    expect(merged).toEqual({ red: 30, fox: 60, blue: 30, jumps: 30 });
  });

  it('prints collected outputs, and rejects a bad source naming the option', async () => {
    const r = await kiban(
      'stage',
      'run',
      'test/fixtures/stages/stages.ts',
      '--export',
      'wordCount',
      '--source',
      `jsonl:${join(dir, 'posts')}`,
      '--runner',
      'inline',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{"word":"fox","count":60}');
    expect(r.stdout).toMatch(/stage word-count on inline: 60 records read from 3 partitions/);
    const bad = await kiban(
      'stage',
      'run',
      'test/fixtures/stages/stages.ts',
      '--source',
      'excel:x.xlsx',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--source: unknown source kind "excel"');
  });
});

/** Word counts of every post under `dir`, computed here the way the example means them. */
async function countWords(dir: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      const { text } = JSON.parse(line) as { text: string };
      for (const word of text.toLowerCase().split(/\W+/))
        if (word !== '') counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

// The compiled CLI on plain Node, as users run it: TypeScript modules must load without tsx flags.
describe('built CLI (node dist/cli/main.js): the README stage example and TypeScript modules', {
  timeout: 300_000,
}, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-stage-built-'));
    await ensureBuiltCli();
  }, 300_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['inline', 'threads', 'zeromq'])(
    'examples/stages/word-count.ts on %s with --count 2: each word once, with its whole count',
    async (runner) => {
      const out = join(dir, `counts-${runner}`);
      const r = await kibanBuilt(
        'stage',
        'run',
        'examples/stages/word-count.ts',
        '--export',
        'wordCount',
        '--source',
        'jsonl:examples/stages/posts/',
        '--sink',
        `jsonl:${out}`,
        '--runner',
        runner,
        '--count',
        '2',
        '--num-preprocessors',
        '2',
        '--json',
      );
      expect(r.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|error/i);
      expect(r.code).toBe(0);
      const rows = (
        await Promise.all(
          (
            await readdir(out)
          )
            .filter((f) => f.endsWith('.jsonl'))
            .map((f) => readFile(join(out, f), 'utf8')),
        )
      )
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { word: string; count: number });
      const expected = await countWords('examples/stages/posts');
      expect(rows.map((row) => row.word).sort()).toEqual([...expected.keys()].sort());
      expect(new Map(rows.map((row) => [row.word, row.count]))).toEqual(expected);
    },
  );

  it('runs a workflow whose kind: module and kind: stage tasks are TypeScript files relative to the workflow', async () => {
    const wf = join(dir, 'wf');
    await mkdir(join(wf, 'posts'), { recursive: true });
    await writeFile(join(wf, 'posts', 'a.jsonl'), '{"text":"red fox"}\n{"text":"red dog"}\n');
    // An ES module project, as a TypeScript project using kiban is (tsx on Node 20 fails on ESM
    // syntax in a .ts file of a CommonJS package).
    await writeFile(join(wf, 'package.json'), '{"type":"module"}\n');
    // TypeScript-only syntax (an interface, annotations): plain Node cannot load it without a loader.
    await writeFile(
      join(wf, 'tasks.ts'),
      `interface Ctx { params: Record<string, unknown>; log(line: string): void }
export async function hello(ctx: Ctx): Promise<{ greeted: string }> {
  const name: string = String(ctx.params.name);
  ctx.log(\`hello \${name}\`);
  return { greeted: name };
}
`,
    );
    await writeFile(
      join(wf, 'words.ts'),
      `import { defineStage } from ${JSON.stringify(join(process.cwd(), 'dist/stages/stage.js'))};
export const words = defineStage({
  name: 'words',
  async *preprocess(posts: AsyncIterable<{ text: string }>) { for await (const p of posts) for (const w of p.text.split(' ')) yield w; },
  partitionBy: (w: string): string => w,
  async *main(ws: AsyncIterable<string>) { const n = new Map<string, number>(); for await (const w of ws) n.set(w, (n.get(w) ?? 0) + 1); yield* n; },
});
`,
    );
    await writeFile(
      join(wf, 'flow.yaml'),
      `name: ts-modules
tasks:
  greet: { kind: module, module: tasks.ts, export: hello, params: { name: kiban } }
  count: { kind: stage, module: words.ts, export: words, params: { source: "jsonl:${join(wf, 'posts')}", runner: threads, count: 2 }, needs: [greet] }
`,
    );
    const r = await kibanBuilt(
      'workflow',
      'run',
      join(wf, 'flow.yaml'),
      '--metadata',
      `sqlite:${join(dir, 'meta.db')}`,
      '--work-dir',
      join(dir, 'work'),
      '--json',
    );
    expect(r.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION/);
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { status: string };
    expect(run.status).toBe('succeeded');
    const { openMetadataStore } = await import('../src/app/open-stores.js');
    const store = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    try {
      const [latest] = await store.workflows.listRuns({ workflow: 'ts-modules' });
      const tasks = await store.workflows.getTasks(latest.id);
      const byName = new Map(tasks.map((t) => [t.task, t.output as Record<string, unknown>]));
      expect(byName.get('greet')).toEqual({ greeted: 'kiban' });
      const outputs = byName.get('count')!.outputs as [string, number][];
      expect(new Map(outputs)).toEqual(
        new Map([
          ['red', 2],
          ['fox', 1],
          ['dog', 1],
        ]),
      );
      expect(outputs).toHaveLength(3);
    } finally {
      await store.close();
    }
  });
});
