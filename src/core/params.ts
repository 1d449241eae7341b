import type { z } from 'zod';
import { InvalidArgumentError } from './errors.js';

/**
 * Validates `input` against a zod schema and returns the frozen result (defaults filled in). A
 * failure becomes an {@link InvalidArgumentError} naming the first offending field, prefixed
 * with `scope` (e.g. `als.factors`).
 */
export function parseParams<S extends z.ZodType>(
  schema: S,
  input: unknown,
  scope: string,
): Readonly<z.output<S>> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.length > 0 ? `${scope}.${issue.path.join('.')}` : scope;
    throw new InvalidArgumentError(path, issue.message);
  }
  return Object.freeze(result.data) as Readonly<z.output<S>>;
}
