import { z } from 'zod';
import { parseInstant } from '../features/instant.js';
import { parseDuration } from '../workflow/duration.js';
import { InvalidArgumentError } from '../core/errors.js';

/** A check that reports an {@link InvalidArgumentError}'s reason as the field's zod issue. */
const checked = (check: (value: string | number) => unknown) =>
  z.union([z.string().min(1), z.number()]).superRefine((value, ctx) => {
    try {
      check(value);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.reason });
    }
  });

const instant = checked((v) => parseInstant('time', v));
const duration = checked((v) => {
  if (parseDuration(v, 'duration') <= 0) throw new InvalidArgumentError('duration', 'must be > 0');
});

/**
 * Params of `kind: materialize` tasks (see `materialize-task-runner.ts`): the repository, the
 * window (`start` and `end`, or `window` ending at the run's logical date), and optionally the
 * views, the online store URL, the kiban.yaml placing the default one, the step, chunk size and
 * `force`.
 */
export const materializeParamsSchema = z
  .object({
    repo: z
      .string({ error: 'a materialize task needs repo: a directory holding features.yaml' })
      .min(1),
    start: instant.optional(),
    end: instant.optional(),
    window: duration.optional(),
    views: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]).optional(),
    online: z.string().min(1).optional(),
    config: z.string().min(1).optional(),
    step: duration.optional(),
    chunkRows: z
      .preprocess(
        (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
        z.int('must be a whole number ≥ 1').min(1, 'must be a whole number ≥ 1'),
      )
      .optional(),
    force: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const explicit = p.start !== undefined || p.end !== undefined;
    if (explicit && p.window !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['window'],
        message: 'give either window (ending at the run’s logical date) or start and end',
      });
    else if (!explicit && p.window === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['window'],
        message: 'a materialize task needs window (e.g. 1d) or start and end',
      });
    else if (explicit && (p.start === undefined || p.end === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [p.start === undefined ? 'start' : 'end'],
        message: 'is needed with the other: the window is [start, end)',
      });
  });
