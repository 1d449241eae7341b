import { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import { CARVE_KINDS } from '../evaluation/validation-carve.js';
import { parseDuration } from '../workflow/duration.js';

const wholeNumber = (min: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z.int(`must be a whole number ≥ ${min}`).min(min, `must be a whole number ≥ ${min}`),
  );

/**
 * A wall-clock budget such as `10m` or `90s` (or a number of seconds), checked here so that a bad
 * one fails when the workflow is read, naming `budget`.
 */
export const tuneBudgetSchema = z.union([z.string().min(1), z.number()]).superRefine((v, ctx) => {
  try {
    if (parseDuration(v, 'budget') <= 0)
      throw new InvalidArgumentError('budget', 'must be longer than 0');
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.reason });
  }
});

/**
 * Params of `kind: tune` tasks (see `tune-task-runner.ts`): the model to tune, how many
 * configurations, an optional wall-clock `budget`, the validation `carve`, the training data
 * (`train`, else the events of `config`, else the bundled split), and whether to `apply` the best
 * params to `config` (a kiban.yaml). `train` and `config` resolve against the workflow's directory.
 */
export const tuneParamsSchema = z
  .object({
    model: z.string({ error: 'a tune task needs model: the model kind to tune' }).min(1),
    trials: wholeNumber(1).default(16),
    budget: tuneBudgetSchema.optional(),
    carve: z.enum(CARVE_KINDS as [string, ...string[]]).default('temporal'),
    train: z.string().min(1).optional(),
    config: z.string().min(1).optional(),
    apply: z.union([z.boolean(), z.enum(['true', 'false'])]).default(false),
    seed: wholeNumber(0).default(42),
    eta: wholeNumber(2).default(3),
    minBudget: z.number().gt(0).max(1).default(0.3),
    k: wholeNumber(1).default(10),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.apply === true || p.apply === 'true') && p.config === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['apply'],
        message: 'needs config: the kiban.yaml to write the best params to',
      });
  });

/** A parsed {@link tuneParamsSchema}. */
export type TuneTaskParams = z.output<typeof tuneParamsSchema>;
