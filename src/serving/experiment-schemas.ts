/**
 * Zod schemas of the A/B testing routes (`/v1/experiments…`, `/v1/events`): they validate
 * requests, type the handlers and are documented in `/openapi.json`. The definition, start and
 * results routes check most of their input in `experiments/` or the handler (naming the field,
 * in the words their tests and clients know), so their schemas take what those checks take.
 * Answers other than assignments and events have no response schema (and so no error ones:
 * the type provider would then take the error shape for the handler's whole answer): they are the
 * domain's types (`Experiment`, `ExperimentAnalysis`) with `Date`s, still evolving, which the
 * dashboard mirrors by hand in `web/src/types.ts`. A schema that lagged behind would silently
 * drop fields from the answers.
 */
import { z } from 'zod';
import { MAX_EVENTS_PER_BATCH } from '../experiments/experiment-service.js';
import { errorSchema } from './schemas.js';

const nameParams = z.object({ name: z.string().describe('experiment name') });

export const listExperimentsRoute = {
  summary: 'Experiments',
  description: 'Every experiment, or those with the given status (draft, running or stopped).',
  querystring: z.looseObject({
    status: z.string().optional().describe('draft, running or stopped'),
  }),
};

export const assignmentsRoute = {
  summary: "A unit's variants",
  description:
    'Every running experiment the unit is in, with its variant: `unit` names the unit; every other query parameter is an attribute for targeting (`?unit=u42&country=JP&age=31`). The same answer as `assignUnit` from the definitions of `GET /v1/experiments?status=running`.',
  querystring: z
    .object({ unit: z.string().min(1).max(200) })
    .catchall(z.union([z.string(), z.array(z.string())])),
  response: {
    200: z.object({
      unit: z.string(),
      assignments: z.array(
        z.object({ experiment: z.string(), variant: z.string(), layer: z.string() }),
      ),
    }),
    400: errorSchema,
  },
};

export const defineExperimentRoute = {
  summary: 'Define an experiment',
  description:
    'Creates the experiment (201) or changes it (200): variants with weights, control, traffic, layer, targeting rules. Changing the split of a running experiment needs `?force=true`. The definition is checked field by field; a bad one is a 400 naming the field.',
  params: nameParams,
  querystring: z.looseObject({
    force: z.string().optional().describe('"true" to change the split of a running experiment'),
  }),
  body: z.unknown().describe('the experiment definition (see experiments/experiment.ts)'),
};

export const getExperimentRoute = {
  summary: 'An experiment',
  description: 'The definition and status of the experiment.',
  params: nameParams,
};

export const startExperimentRoute = {
  summary: 'Start an experiment',
  description: 'Starts assigning units, now or at `at` (ISO-8601).',
  params: nameParams,
  body: z
    .looseObject({ at: z.unknown().optional().describe('ISO-8601 time; default now') })
    .nullable(),
};

export const stopExperimentRoute = {
  summary: 'Stop an experiment',
  description: 'Stops assigning units; its events and results stay.',
  params: nameParams,
};

export const resultsRoute = {
  summary: 'Analysis of an experiment',
  description:
    'Per variant: units, conversion rate or mean; per comparison with the control: the difference and relative lift with confidence intervals, the p-value, CUPED and sequential (always-valid) inference, the probability to beat the control; the sample ratio check and a timeline.',
  params: nameParams,
  querystring: z.looseObject({
    metric: z.string().optional().describe('the metric analysed; default the first one'),
    alternative: z.string().optional().describe('two-sided, greater or less'),
    confidence: z.string().optional().describe('confidence level, e.g. 0.95'),
    cuped: z.string().optional().describe('true or false; default true'),
    bucket: z.string().optional().describe('timeline bucket: day or hour; default day'),
    tau: z.string().optional().describe('mixing variance of the sequential test'),
    covariateFeature: z
      .string()
      .optional()
      .describe(
        "VIEW:FEATURE: CUPED with this feature store feature, each unit's value just before its first exposure, instead of the metric's pre-exposure events",
      ),
  }),
};

export const eventsRoute = {
  summary: 'Ingest experiment events',
  description: `A batch of up to ${MAX_EVENTS_PER_BATCH} exposure, conversion and value events, stored in one transaction (all or none); an event id stored before is skipped, so a retried batch is counted once. An event of an experiment that is not defined is a 404, an exposure to a variant the experiment does not have a 400, naming the event; the batch is then not stored.`,
  body: z.strictObject({
    events: z
      .array(
        z.looseObject({
          eventId: z.string(),
          type: z.enum(['exposure', 'conversion', 'value']),
          experiment: z.string(),
          unit: z.string(),
          variant: z.string().optional().describe('exposures'),
          metric: z.string().optional().describe('conversions and values'),
          value: z.number().optional().describe('value events'),
          time: z
            .union([z.string(), z.number()])
            .optional()
            .describe('ISO-8601 or epoch ms; default now'),
        }),
      )
      .max(MAX_EVENTS_PER_BATCH),
  }),
  response: {
    200: z.object({ accepted: z.int(), duplicates: z.int() }),
    400: errorSchema,
    404: errorSchema,
  },
};
