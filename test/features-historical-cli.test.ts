import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempDir } from './fixtures/temp-dir.js';

describe('kiban features historical', () => {
  const tmp = useTempDir('kiban-features-historical-');
  const file = (name: string): string => join(tmp.path, name);

  beforeAll(async () => {
    // The minimal repository of issue 20, plus a created-time column and a feature service.
    await mkdir(file('repo/data'), { recursive: true });
    await writeFile(
      file('repo/features.yaml'),
      [
        'entities:',
        '  user: { joinKey: user_id, type: string }',
        'sources:',
        '  user_stats: { path: data/user_stats.csv, timestamp: event_time, createdTimestamp: created }',
        'featureViews:',
        '  user_stats:',
        '    entities: [user]',
        '    source: user_stats',
        '    ttl: 7d',
        '    features: { clicks_7d: int64, spend_7d: float64 }',
        'featureServices:',
        '  ranking: { features: [user_stats:spend_7d] }',
        '',
      ].join('\n'),
    );
    await writeFile(
      file('repo/data/user_stats.csv'),
      [
        'user_id,event_time,created,clicks_7d,spend_7d',
        'u1,2024-01-01T00:00:00Z,2024-01-01T00:00:00Z,3,1.5',
        'u1,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,4,2.5', // a correction of the same day
        'u1,2024-01-10T00:00:00Z,2024-01-10T00:00:00Z,9,9.5',
        'u2,2024-01-05T00:00:00Z,2024-01-05T00:00:00Z,1,0.5',
        '',
      ].join('\n'),
    );
    await writeFile(
      file('labels.csv'),
      [
        'user_id,event_time,label',
        'u1,2024-01-07T12:00:00Z,1', // the corrected row of the 1st, 6.5 days old
        'u2,2024-01-04T00:00:00Z,0', // before u2's first row
        'u1,2024-01-08T00:00:00Z,0', // exactly 7 days after the 1st: expired
        'u2,2024-01-06T00:00:00Z,1',
        'u3,2024-01-06T00:00:00Z,1', // no rows
        '',
      ].join('\n'),
    );
  });

  it('writes the input rows in order with one column per feature', async () => {
    const ran = await kiban(
      'features',
      'historical',
      '--repo',
      file('repo'),
      '--entities',
      file('labels.csv'),
      '--features',
      'user_stats:clicks_7d,user_stats:spend_7d',
      '--output',
      file('out/train.csv'),
    );
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(`wrote 5 rows × 5 columns to ${file('out/train.csv')}`);
    expect((await readFile(file('out/train.csv'), 'utf8')).trimEnd().split('\n')).toEqual([
      'user_id,event_time,label,user_stats__clicks_7d,user_stats__spend_7d',
      'u1,2024-01-07T12:00:00Z,1,4,2.5',
      'u2,2024-01-04T00:00:00Z,0,,',
      'u1,2024-01-08T00:00:00Z,0,,',
      'u2,2024-01-06T00:00:00Z,1,1,0.5',
      'u3,2024-01-06T00:00:00Z,1,,',
    ]);
  });

  it('takes a feature service, and a window instead of an entity file', async () => {
    const service = await kiban(
      'features',
      'historical',
      '--repo',
      file('repo'),
      '--entities',
      file('labels.csv'),
      '--feature-service',
      'ranking',
      '--output',
      file('service.csv'),
    );
    expect(service.code).toBe(0);
    expect(
      (await readFile(file('service.csv'), 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => l.split(',').at(-1)),
    ).toEqual(['user_stats__spend_7d', '2.5', '', '', '0.5', '']);
    const window = await kiban(
      'features',
      'historical',
      '--repo',
      file('repo'),
      '--features',
      'user_stats:*',
      '--start',
      '2024-01-01',
      '--end',
      String(Date.UTC(2024, 0, 10) / 1000), // the 10th's row is outside
      '--output',
      file('latest.csv'),
      '--threads',
      '1',
      '--memory-limit',
      '256MB',
    );
    expect(window.stderr).toBe('');
    expect(window.code).toBe(0);
    expect((await readFile(file('latest.csv'), 'utf8')).trimEnd().split('\n')).toEqual([
      'user_id,user_stats__clicks_7d,user_stats__spend_7d',
      'u1,4,2.5',
      'u2,1,0.5',
    ]);
  });

  it('refuses bad usage (exit 2) and bad data (exit 3), naming the flag or the column', async () => {
    const base = ['features', 'historical', '--repo', file('repo'), '--output', file('x.csv')];
    const noInput = await kiban(...base, '--features', 'user_stats:clicks_7d');
    expect(noInput.code).toBe(2);
    expect(noInput.stderr).toContain('--entities: give an entity file, or --start and --end');
    const both = await kiban(...base, '--entities', file('labels.csv'));
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--features: give either --features or --feature-service');
    const unknown = await kiban(
      ...base,
      '--entities',
      file('labels.csv'),
      '--features',
      'user_stats:views',
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('view "user_stats" has no feature "views"');
    await writeFile(file('bad.csv'), 'user_id,at\nu1,soon\n');
    const bad = await kiban(
      ...base,
      '--entities',
      file('bad.csv'),
      '--timestamp',
      'at',
      '--features',
      'user_stats:clicks_7d',
    );
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`${file('bad.csv')}`);
    expect(bad.stderr).toContain('"soon" is neither an ISO-8601 timestamp nor epoch seconds');
    expect(bad.stderr).toContain('at');
    const threads = await kiban(
      ...base,
      '--features',
      'user_stats:*',
      '--entities',
      file('labels.csv'),
      '--threads',
      '0',
    );
    expect(threads.code).toBe(2);
    expect(threads.stderr).toContain('--threads: must be a whole number of at least 1, got "0"');
    const badStart = await kiban(
      ...base,
      '--features',
      'user_stats:*',
      '--start',
      'monday',
      '--end',
      '0',
    );
    expect(badStart.code).toBe(2);
    expect(badStart.stderr).toContain('--start: "monday" is neither');
  });

  it('shows an example in --help', async () => {
    const help = await kiban('features', 'historical', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kiban features historical --repo');
    expect(help.stdout).toContain('--feature-service');
  });
});
