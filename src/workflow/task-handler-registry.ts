import { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import type { TaskHandler } from './task-handler.js';

/** One thing wrong with a task's params: the dotted path below `params` (empty for the whole) and the reason. */
export interface TaskParamProblem {
  path: string;
  message: string;
}

const KIND = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * The task kinds a workflow may use, each with its {@link TaskHandler}: an open list in place
 * of a closed enum. Kinds are listed in registration order (that is how messages name them).
 * Validation and execution both go through it, so a kind that validates is one that runs.
 *
 * @example
 * const handlers = new TaskHandlerRegistry().register(shellTaskHandler).register(myHandler);
 * handlers.validate('my-kind', { size: 3 }); // [] when valid
 */
export class TaskHandlerRegistry {
  readonly #handlers = new Map<string, TaskHandler>();

  /** Adds `handler`; InvalidArgumentError when its kind is malformed or already registered. Returns this. */
  register(handler: TaskHandler): this {
    if (!KIND.test(handler.kind))
      throw new InvalidArgumentError(
        'kind',
        `"${handler.kind}" is not a task kind: letters, digits, "-" or "_", at most 64`,
      );
    if (this.#handlers.has(handler.kind))
      throw new InvalidArgumentError(
        'kind',
        `a handler for "${handler.kind}" tasks is already registered`,
      );
    this.#handlers.set(handler.kind, handler);
    return this;
  }

  /** The handler of `kind`, or undefined when none is registered. */
  get(kind: string): TaskHandler | undefined {
    return this.#handlers.get(kind);
  }

  /** Whether `kind` has a handler. */
  has(kind: string): boolean {
    return this.#handlers.has(kind);
  }

  /** The registered kinds, in registration order. */
  kinds(): string[] {
    return [...this.#handlers.keys()];
  }

  /**
   * Every problem with `params` for a task of `kind` by its handler's schema, in the schema's
   * order with unknown keys first (a misspelt key also reads as a missing one); empty when
   * valid. An unregistered kind is one problem at the empty path, listing the registered kinds.
   */
  validate(kind: string, params: Record<string, unknown>): TaskParamProblem[] {
    const handler = this.#handlers.get(kind);
    if (handler === undefined) return [{ path: '', message: this.unknownKindMessage(kind) }];
    return paramProblems(handler, params);
  }

  /**
   * Parses `params` with the schema of `kind`, as the task runs them (coercions applied).
   * Throws InvalidArgumentError naming `params.<key>` (or `kind`) and the first problem.
   */
  parse(kind: string, params: Record<string, unknown>): Record<string, unknown> {
    const handler = this.#handlers.get(kind);
    if (handler === undefined)
      throw new InvalidArgumentError('kind', this.unknownKindMessage(kind));
    return parseParams(handler, params);
  }

  /** `unknown kind "x"; registered: …`. */
  unknownKindMessage(kind: string): string {
    return `unknown kind "${kind}"; registered: ${this.kinds().join(', ') || 'none'}`;
  }
}

/** Every problem with `params` by `handler`'s schema; see {@link TaskHandlerRegistry.validate}. */
export function paramProblems(
  handler: Pick<TaskHandler, 'kind' | 'params' | 'unknownParamMessage'>,
  params: Record<string, unknown>,
): TaskParamProblem[] {
  const result = handler.params.safeParse(params);
  if (result.success) return [];
  const problems: TaskParamProblem[] = [];
  // Unknown keys first: a misspelt key (`sorce`) also reads as a missing one (`source`).
  const issues = [...result.error.issues].sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  );
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push({
          path: [...path, key].join('.'),
          message: path.length === 0 ? unknownKeyMessage(handler) : 'unknown key',
        });
    } else problems.push({ path: path.join('.'), message: issue.message });
  }
  return problems;
}

/** `params` parsed by `handler`'s schema; InvalidArgumentError naming `params.<key>` and the first problem. */
export function parseParams(
  handler: Pick<TaskHandler, 'kind' | 'params' | 'unknownParamMessage'>,
  params: Record<string, unknown>,
): Record<string, unknown> {
  const result = handler.params.safeParse(params);
  if (result.success) return result.data;
  const [first] = paramProblems(handler, params);
  throw new InvalidArgumentError(
    first.path === '' ? 'params' : `params.${first.path}`,
    first.message,
  );
}

function unknownKeyMessage(
  handler: Pick<TaskHandler, 'kind' | 'params' | 'unknownParamMessage'>,
): string {
  if (handler.unknownParamMessage !== undefined) return handler.unknownParamMessage;
  const known = handler.params instanceof z.ZodObject ? Object.keys(handler.params.shape) : [];
  return `not a parameter of ${handler.kind} tasks; known: ${known.join(', ')}`;
}
