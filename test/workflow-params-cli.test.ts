import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempDir } from './fixtures/temp-dir.js';

/** Parameter values a shell would run if they were pasted into the command. */
function hostileValues(pwned: string): Record<string, string> {
  return {
    semi: `x; touch ${pwned}`,
    subst: `$(touch ${pwned})`,
    tick: `\`touch ${pwned}\``,
    quotes: `it's "quoted" '; touch ${pwned}; '`,
    newline: `first\ntouch ${pwned}\nlast`,
  };
}

// Each CLI call starts Node with tsx (seconds on a loaded 2-core machine): generous limits.
describe('kiban workflow run -p: parameters reach shell tasks as environment variables', {
  timeout: 240_000,
}, () => {
  const tmp = useTempDir('kiban-params-cli-');

  it('runs nothing from a value with ; $( ) backticks quotes or newlines, and the task sees each value exactly', async () => {
    const pwned = join(tmp.path, 'pwned');
    const values = hostileValues(pwned);
    const names = Object.keys(values);
    const out = join(tmp.path, 'out');
    const file = join(tmp.path, 'hostile.yaml');
    // Each task writes its variable, byte for byte, to a file named after it.
    await writeFile(
      file,
      `name: hostile
params: { ${names.map((n) => `${n}: safe`).join(', ')} }
tasks:
  write:
    run: >-
      mkdir -p ${out} &&
      ${names.map((n) => `printf '%s' "$KIBAN_PARAM_${n.toUpperCase()}" > ${out}/${n}`).join(' && ')} &&
      printf '%s|%s|%s|%s' "$KIBAN_WORKFLOW" "$KIBAN_TASK" "$KIBAN_ATTEMPT" "$KIBAN_LOGICAL_DATE" > ${out}/builtins
`,
    );
    const args = names.flatMap((n) => ['-p', `${n}=${values[n]}`]);
    const run = await kiban(
      'workflow',
      'run',
      file,
      ...args,
      '--logical-date',
      '2026-11-24',
      '--metadata',
      `sqlite:${join(tmp.path, 'meta.db')}`,
      '--work-dir',
      join(tmp.path, 'work'),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const n of names) expect(await readFile(join(out, n), 'utf8'), n).toBe(values[n]);
    expect(await readFile(join(out, 'builtins'), 'utf8')).toBe(
      'hostile|write|1|2026-11-24T00:00:00.000Z',
    );
    expect(existsSync(pwned)).toBe(false);
  });

  it('refuses -p values that name a file outside --data-root, before any run starts', async () => {
    const file = join(tmp.path, 'files.yaml');
    await writeFile(
      file,
      'name: files\nparams: { events: events.csv }\ntasks:\n  agg: { kind: aggregate, params: { events: "${events}" } }\n',
    );
    const meta = `sqlite:${join(tmp.path, 'files-meta.db')}`;
    const outside = await kiban(
      'workflow',
      'run',
      file,
      '-p',
      'events=/etc/passwd',
      '--data-root',
      tmp.path,
      '--metadata',
      meta,
      '--work-dir',
      join(tmp.path, 'work'),
    );
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toContain(
      'params.events: tasks.agg.params.events must name a file inside the data root',
    );
    expect(outside.stdout).not.toMatch(/^run /m);
  });

  it('validate refuses ${…} in run commands and shows the environment variable to use', async () => {
    const file = join(tmp.path, 'pasted.yaml');
    await writeFile(
      file,
      'name: pasted\nparams: { msg: hi }\ntasks:\n  say: { run: "echo ${msg} ${logical_date}" }\n',
    );
    const result = await kiban('workflow', 'validate', file);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `${file}:4: tasks.say.run: \${msg} is not substituted in run commands`,
    );
    expect(result.stderr).toContain('"$KIBAN_PARAM_MSG"');
    expect(result.stderr).toContain('"$KIBAN_LOGICAL_DATE"');
  });
});
