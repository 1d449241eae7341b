import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';

describe('kiban stage run', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-stage-cli-'));
    await mkdir(join(dir, 'posts'));
    for (let p = 0; p < 3; p++) {
      const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: p * 20 + i, text: i % 2 === 0 ? 'red fox' : 'blue fox jumps' }));
      await writeFile(join(dir, 'posts', `part-${p}.jsonl`), `${lines.join('\n')}\n`);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a user stage on 2 + 2 threads and writes its sink', async () => {
    const out = join(dir, 'counts');
    const r = await kiban('stage', 'run', 'test/fixtures/stages/stages.ts', '--export', 'wordCount', '--source', `jsonl:${join(dir, 'posts')}`, '--sink', `jsonl:${out}`,
      '--num-preprocessors', '2', '--count', '2', '--json');
    expect(r.stderr.split('\n').filter((l) => /error/i.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { runner: string; records: { read: number }; partitions: number };
    expect(result).toMatchObject({ runner: 'threads', records: { read: 60 }, partitions: 3 });
    const rows = (await Promise.all((await readdir(out)).map((f) => readFile(join(out, f), 'utf8')))).join('').trim().split('\n').map((l) => JSON.parse(l) as { word: string; count: number });
    const merged: Record<string, number> = {};
    for (const { word, count } of rows) merged[word] = (merged[word] ?? 0) + count;
    expect(merged).toEqual({ red: 30, fox: 60, blue: 30, jumps: 30 });
  });

  it('prints collected outputs, and rejects a bad source naming the option', async () => {
    const r = await kiban('stage', 'run', 'test/fixtures/stages/stages.ts', '--export', 'wordCount', '--source', `jsonl:${join(dir, 'posts')}`, '--runner', 'inline');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('{"word":"fox","count":60}');
    expect(r.stdout).toMatch(/stage word-count on inline: 60 records read from 3 partitions/);
    const bad = await kiban('stage', 'run', 'test/fixtures/stages/stages.ts', '--source', 'excel:x.xlsx');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--source: unknown source kind "excel"');
  });
});
