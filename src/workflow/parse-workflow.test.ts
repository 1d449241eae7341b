import { describe, expect, it } from 'vitest';
import { builtinTaskHandlers } from '../app/builtin-task-handlers.js';
import { topologicalOrder } from './dag.js';
import { parseDuration } from './duration.js';
import {
  parseWorkflow,
  readWorkflowFile,
  WorkflowInvalidError,
  type WorkflowProblem,
} from './parse-workflow.js';
import { parameterReferences, substitute } from './substitute.js';

/** Every kind kiban ships, as the CLI and server validate with. */
const handlers = builtinTaskHandlers();

const MINIMAL = `name: nightly
schedule: { cron: "0 3 * * *", timezone: Asia/Tokyo }
tasks:
  aggregate: { kind: aggregate }
  train:     { kind: train, needs: [aggregate], retry: { count: 2, backoff: 30s } }
  report:    { run: "echo done $KIBAN_LOGICAL_DATE", needs: [train] }
`;

function problems(text: string): WorkflowProblem[] {
  try {
    parseWorkflow(text, 'wf.yaml', handlers);
  } catch (error) {
    if (error instanceof WorkflowInvalidError) return error.problems;
    throw error;
  }
  throw new Error('expected the workflow to be invalid');
}

describe('parseWorkflow', () => {
  it('reads the minimal workflow of the issue, with kinds, retries and order resolved', () => {
    const wf = parseWorkflow(MINIMAL, 'wf.yaml', handlers);
    expect(wf.name).toBe('nightly');
    expect(wf.schedule).toEqual({ cron: '0 3 * * *', timezone: 'Asia/Tokyo', catchUp: 'skip' });
    expect(wf.tasks.map((t) => [t.name, t.kind])).toEqual([
      ['aggregate', 'aggregate'],
      ['train', 'train'],
      ['report', 'shell'],
    ]);
    expect(wf.tasks[1].retry).toEqual({ count: 2, backoffMs: 30_000, maxBackoffMs: 3_600_000 });
    expect(wf.tasks[0].retry.count).toBe(0);
    expect(wf.tasks[2].run).toBe('echo done $KIBAN_LOGICAL_DATE');
  });

  it('accepts the shipped nightly recommendation workflow', async () => {
    const wf = await readWorkflowFile('examples/workflows/recommend.yaml', handlers);
    expect(wf.tasks.map((t) => t.name)).toEqual([
      'aggregate',
      'evaluate',
      'train',
      'candidates',
      'publish',
      'report',
    ]);
    expect(wf.expectedDurationMs).toBe(30 * 60_000);
  });

  it('reports every problem with its line: cycles, unknown tasks, bad cron, durations, parameters, keys', () => {
    const found = problems(`name: nightly
schedule: { cron: "0 25 * * *", timezone: Asia/Tokyo }
tasks:
  aggregate: { kind: aggregate, needs: [report] }
  train:     { kind: train, needs: [aggregate, nope], retry: { count: 2, backoff: 30x } }
  report:    { run: "echo $KIBAN_LOGICAL_DATE \${colour}", needs: [train] }
  odd:       { kind: train, colour: red }
`);
    expect(found.map((p) => [p.line, p.path])).toEqual([
      [2, 'schedule.cron'],
      [4, 'tasks.aggregate.needs'],
      [5, 'tasks.train.needs.1'],
      [5, 'tasks.train.retry.backoff'],
      [6, 'tasks.report.run'],
      [7, 'tasks.odd.colour'],
    ]);
    expect(found[0].message).toMatch(/bad cron expression "0 25 \* \* \*"/);
    expect(found[1].message).toBe('tasks form a cycle: aggregate → train → report → aggregate');
    expect(found[2].message).toMatch(/unknown task "nope"/);
    expect(found[4].message).toMatch(/unknown parameter \$\{colour\}/);
    expect(found[5].message).toBe('unknown key');
  });

  it('checks task kinds against their fields, time zones, and declared parameters', () => {
    const found = problems(`name: wf
schedule: { cron: "0 3 * * *", timezone: Mars/Olympus }
params: { colour: red }
tasks:
  a: { needs: [] }
  b: { kind: shell }
  c: { kind: train, run: "echo" }
  d: { kind: module }
  e: { kind: module, module: "./jobs.ts", export: "run\${colour}" }
  f: { run: "echo $KIBAN_PARAM_COLOUR", needs: [f] }
`);
    expect(found.map((p) => [p.line, p.message.split(';')[0]])).toEqual([
      [2, 'unknown time zone "Mars/Olympus"'],
      [
        5,
        'needs a kind (aggregate, train, evaluate, candidates, publish, shell, module, stage, tags, materialize, export, tune) or a run command',
      ],
      [6, 'a shell task needs run: "command"'],
      [7, 'run is for shell tasks, not kind train'],
      [8, 'a module task needs module: path/to/file.ts (and export:, default "default")'],
      [10, 'a task cannot need itself'],
    ]);
  });

  it("refuses ${…} in run commands, showing the environment variable; $${ stays the shell's own", () => {
    const found = problems(`name: wf
params: { msg: hi, heldOut: x }
tasks:
  a: { run: "echo \${msg}" }
  b: { run: "echo \${logical_date} \${ run_id }" }
  c: { run: "cat \${heldOut}; echo \${HOME}" }
  d: { run: "echo $\${HOME} '$KIBAN_PARAM_MSG'" }
`);
    expect(found.map((p) => [p.line, p.path, p.message.split(' (')[0].split(';')[0]])).toEqual([
      [4, 'tasks.a.run', '${msg} is not substituted in run commands'],
      [5, 'tasks.b.run', '${logical_date} is not substituted in run commands'],
      [5, 'tasks.b.run', '${run_id} is not substituted in run commands'],
      [6, 'tasks.c.run', '${heldOut} is not substituted in run commands'],
      [6, 'tasks.c.run', 'unknown parameter ${HOME}'],
    ]);
    expect(found[0].message).toContain('use the environment variable "$KIBAN_PARAM_MSG"');
    expect(found[1].message).toContain('"$KIBAN_LOGICAL_DATE"');
    expect(found[2].message).toContain('"$KIBAN_RUN_ID"');
    expect(found[3].message).toContain('"$KIBAN_PARAM_HELDOUT"');
    expect(found[4].message).toContain('$${HOME}');
  });

  it('refuses parameters that would reach shell tasks as the same variable, or shadow a built-in', () => {
    const found = problems(
      'name: wf\nparams: { heldOut: a, heldout: b, logical_date: c }\ntasks:\n  a: { run: "true" }\n',
    );
    expect(found.map((p) => [p.path, p.message])).toEqual([
      [
        'params.heldout',
        'reaches shell tasks as KIBAN_PARAM_HELDOUT, as "heldOut" does; rename one',
      ],
      ['params.logical_date', '"logical_date" is a built-in parameter'],
    ]);
  });

  it("checks each task's params against the schema its kind runs with, defaults substituted", () => {
    const found = problems(`name: wf
params: { model: nope, days: 90 }
tasks:
  aggregate: { kind: aggregate, params: { data: { events: x.csv }, window: { days: "\${days}", weeks: 2 } } }
  train: { kind: train, needs: [aggregate], params: { kind: "\${model}" } }
  tagger: { kind: tags, params: { valid: v.txt, lr: fast } }
  stage: { kind: stage, module: ./s.ts, params: { source: "nope:x", count: 0 } }
  shell: { run: "true", params: { msg: hi } }
  module: { kind: module, module: ./m.ts, params: { anything: [1, 2] } }
`);
    expect(found.map((p) => [p.line, p.path])).toEqual([
      [4, 'tasks.aggregate.params.window.weeks'],
      [4, 'tasks.aggregate.params.data'],
      [5, 'tasks.train.params.kind'],
      [6, 'tasks.tagger.params.input'],
      [6, 'tasks.tagger.params.lr'],
      [7, 'tasks.stage.params.source'],
      [7, 'tasks.stage.params.count'],
      [8, 'tasks.shell.params.msg'],
    ]);
    expect(found[1].message).toMatch(
      /^not a parameter of aggregate tasks; known: config, events, stores, eventWeights/,
    );
    expect(found[2].message).toMatch(/expected one of/);
    expect(found[3].message).toMatch(/a tags task needs input/);
    expect(found[5].message).toMatch(/unknown source kind "nope"/);
    expect(found[6].message).toBe('must be a whole number ≥ 1');
    expect(found[7].message).toMatch(/KIBAN_PARAM_<NAME> environment variables/);
  });

  it('reports every problem in one pass: a top-level typo hides nothing else', () => {
    const found = problems(`name: wf
scedule: { cron: "0 3 * * *" }
expectedDuration: soon-ish
notify: { on: [sometimes] }
tasks:
  a: { kind: aggregate, params: { data: x } }
  b: { run: "true", needs: [nope] }
`);
    expect(found.map((p) => [p.line, p.path])).toEqual([
      [2, 'scedule'],
      [3, 'expectedDuration'],
      [4, 'notify.on.0'],
      [6, 'tasks.a.params.data'],
      [7, 'tasks.b.needs.0'],
    ]);
    expect(found[0].message).toMatch(/^unknown key; known: name, description, schedule/);
  });

  it('accepts every shipped example workflow', async () => {
    for (const file of ['examples/workflows/recommend.yaml', 'examples/workflows/tags.yaml'])
      await expect(readWorkflowFile(file, handlers)).resolves.toMatchObject({ source: file });
  });

  it('names the line of a YAML syntax error', () => {
    const [p] = problems('name: x\ntasks:\n  a: { kind: aggregate\n  b: [\n');
    expect(p.line).toBeGreaterThanOrEqual(3);
    expect(p.message).toMatch(/^YAML: /);
  });
});

describe('workflow helpers', () => {
  it('substitutes parameters, keeps $${ literal and refuses unknown names', () => {
    expect(
      substitute('run ${workflow} on ${ logical_date }', {
        workflow: 'nightly',
        logical_date: '2026-11-25',
      }),
    ).toBe('run nightly on 2026-11-25');
    expect(substitute('cost: $${HOME} ${n}', { n: 3 })).toBe('cost: ${HOME} 3');
    expect(parameterReferences('a ${x} $${y} ${z}')).toEqual(['x', 'z']);
    expect(() => substitute('${nope}', {}, 'tasks.a.run')).toThrow(
      'tasks.a.run: unknown parameter ${nope}',
    );
  });

  it('parses durations with units, combined units and plain seconds', () => {
    expect(parseDuration('30s', 'x')).toBe(30_000);
    expect(parseDuration('1h30m', 'x')).toBe(5_400_000);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration(2, 'x')).toBe(2000);
    expect(() => parseDuration('soon', 'retry.backoff')).toThrow(
      /retry\.backoff: "soon" is not a duration/,
    );
    expect(() => parseDuration(-1, 'timeout')).toThrow(/timeout: must be a non-negative/);
  });

  it('orders a DAG in declaration order among ready tasks, or returns a cycle', () => {
    const needs = new Map([
      ['a', []],
      ['c', ['a']],
      ['b', ['a']],
      ['d', ['b', 'c']],
    ]);
    expect(topologicalOrder(needs)).toEqual({ order: ['a', 'c', 'b', 'd'] });
    expect(
      topologicalOrder(
        new Map([
          ['x', ['y']],
          ['y', ['x']],
          ['z', []],
        ]),
      ),
    ).toEqual({ cycle: ['x', 'y', 'x'] });
  });
});

describe('defineWorkflow', () => {
  it('gives a TypeScript definition the same checks and the same result as YAML', async () => {
    const { defineWorkflow } = await import('./define-workflow.js');
    const fromTs = defineWorkflow(
      {
        name: 'nightly',
        schedule: { cron: '0 3 * * *', timezone: 'Asia/Tokyo' },
        tasks: {
          aggregate: { kind: 'aggregate' },
          train: { kind: 'train', needs: ['aggregate'], retry: { count: 2, backoff: '30s' } },
          report: { run: 'echo done $KIBAN_LOGICAL_DATE', needs: ['train'] },
        },
      },
      'nightly.ts',
      handlers,
    );
    const fromYaml = parseWorkflow(
      `name: nightly
schedule: { cron: "0 3 * * *", timezone: Asia/Tokyo }
tasks:
  aggregate: { kind: aggregate }
  train:     { kind: train, needs: [aggregate], retry: { count: 2, backoff: 30s } }
  report:    { run: "echo done $KIBAN_LOGICAL_DATE", needs: [train] }
`,
      'nightly.ts',
      handlers,
    );
    expect(fromTs).toEqual(fromYaml);
    expect(() =>
      defineWorkflow({
        name: 'loop',
        tasks: { a: { run: 'x', needs: ['b'] }, b: { run: 'y', needs: ['a'] } },
      }),
    ).toThrow(/tasks form a cycle/);
  });
});
