import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { coreTaskHandlers } from './core-task-handlers.js';
import { parseWorkflow, WorkflowInvalidError } from './parse-workflow.js';
import type { TaskHandler } from './task-handler.js';
import { TaskHandlerRegistry } from './task-handler-registry.js';

const resize: TaskHandler = {
  kind: 'resize',
  params: z
    .object({
      width: z.number().int().min(1),
      height: z.number().int().min(1).optional(),
      mode: z
        .object({ fit: z.enum(['cover', 'contain']) })
        .strict()
        .optional(),
    })
    .strict(),
  run: async (job) => ({ resized: job.task }),
};

describe('TaskHandlerRegistry', () => {
  it('lists kinds in registration order and finds each handler', () => {
    const registry = coreTaskHandlers().register(resize);
    expect(registry.kinds()).toEqual(['shell', 'module', 'resize']);
    expect(registry.get('resize')).toBe(resize);
    expect(registry.has('train')).toBe(false);
    expect(registry.get('train')).toBeUndefined();
  });

  it('refuses a second handler for a kind, and malformed kinds', () => {
    const registry = new TaskHandlerRegistry().register(resize);
    expect(() => registry.register({ ...resize })).toThrow(
      /handler for "resize" tasks is already registered/,
    );
    expect(() => registry.register({ ...resize, kind: 'two words' })).toThrow(
      /"two words" is not a task kind/,
    );
  });

  it('reports every problem with its path below params, unknown keys first', () => {
    const registry = new TaskHandlerRegistry().register(resize);
    expect(registry.validate('resize', { width: 3 })).toEqual([]);
    expect(
      registry.validate('resize', { widht: 3, height: 0, mode: { fit: 'fill', extra: 1 } }),
    ).toEqual([
      { path: 'mode.extra', message: 'unknown key' },
      { path: 'widht', message: 'not a parameter of resize tasks; known: width, height, mode' },
      { path: 'width', message: expect.any(String) },
      { path: 'height', message: expect.any(String) },
      { path: 'mode.fit', message: expect.any(String) },
    ]);
    expect(registry.validate('crop', {})).toEqual([
      { path: '', message: 'unknown kind "crop"; registered: resize' },
    ]);
  });

  it('parses params as the task runs them, naming the first problem', () => {
    const registry = new TaskHandlerRegistry().register(resize);
    expect(registry.parse('resize', { width: 2 })).toEqual({ width: 2 });
    expect(() => registry.parse('resize', { width: 0 })).toThrow(/^params\.width: /);
    expect(() => registry.parse('crop', {})).toThrow(/^kind: unknown kind "crop"/);
  });

  it('gives shell tasks their own message for params', () => {
    expect(coreTaskHandlers().validate('shell', { msg: 'hi' })).toEqual([
      {
        path: 'msg',
        message:
          'shell tasks take no params: parameters reach the command as KIBAN_PARAM_<NAME> environment variables',
      },
    ]);
  });
});

describe('parseWorkflow with a registry', () => {
  const yaml = `name: images
tasks:
  small: { kind: resize, params: { width: 64 } }
  big: { kind: resize, needs: [small], params: { width: 0 } }
  odd: { kind: crop, needs: [small] }
`;

  it('validates a registered kind by its schema and names the registered kinds for an unknown one', () => {
    let problems: { line: number; path: string; message: string }[] = [];
    try {
      parseWorkflow(yaml, 'images.yaml', coreTaskHandlers().register(resize));
    } catch (error) {
      if (!(error instanceof WorkflowInvalidError)) throw error;
      problems = error.problems;
    }
    expect(problems.map((p) => [p.line, p.path])).toEqual([
      [4, 'tasks.big.params.width'],
      [5, 'tasks.odd.kind'],
    ]);
    expect(problems[1].message).toBe('unknown kind "crop"; registered: shell, module, resize');
  });

  it('knows shell and module only when given no registry', () => {
    expect(() => parseWorkflow('name: x\ntasks:\n  a: { kind: resize }\n', 'x.yaml')).toThrow(
      /x\.yaml:3: tasks\.a\.kind: unknown kind "resize"; registered: shell, module/,
    );
    expect(parseWorkflow('name: x\ntasks:\n  a: { run: "true" }\n', 'x.yaml').tasks[0].kind).toBe(
      'shell',
    );
  });
});
