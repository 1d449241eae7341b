import { z } from 'zod';

/**
 * Params of `kind: export` tasks (see `export-task-runner.ts`): the policy file, optionally the
 * kiban.yaml naming the stores and a fixed release id.
 */
export const exportParamsSchema = z
  .object({
    policy: z.string({ error: 'an export task needs policy: an export policy file (YAML)' }).min(1),
    config: z.string().min(1).optional(),
    releaseId: z.string().min(1).optional(),
  })
  .strict();
