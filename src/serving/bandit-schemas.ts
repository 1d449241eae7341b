/**
 * Zod schemas of the bandit API (`/v1/bandits…`): they validate requests, type the handlers,
 * serialise answers and are documented in `/openapi.json` through `@fastify/swagger`.
 */
import { z } from 'zod';
import { POLICY_KINDS } from '../bandits/create-policy.js';
import { MAX_ARM_ID_LENGTH, MAX_DIM } from '../bandits/policy-support.js';
import { errorSchema } from './schemas.js';

/** Most candidates one decision takes. */
export const MAX_CANDIDATES = 10_000;

const nameParams = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .describe('bandit name'),
});

const policy = z
  .enum(POLICY_KINDS)
  .describe(
    'egreedy, ucb1, bts (Bernoulli Thompson sampling), linucb or lints (linear Thompson sampling)',
  );
const dim = z.int().min(0).max(MAX_DIM).describe('context length (required for linucb and lints)');
const policyParams = z
  .record(z.string(), z.number())
  .describe('policy parameters; defaults applied');

const featureService = z
  .string()
  .min(1)
  .max(256)
  .describe(
    'feature service of the feature store whose numeric and bool features (as many as dim, in its order) are the context of decisions that name only an entity',
  );

const definitionSchema = z.object({
  policy,
  dim,
  params: policyParams,
  featureService: featureService.optional(),
  createdAt: z.string(),
});

const defined = z.object({
  name: z.string(),
  created: z.boolean(),
  definition: definitionSchema,
});

export const defineBanditRoute = {
  summary: 'Create a bandit',
  description:
    'Creates the bandit, or confirms it (200) when it exists with the same policy, dim and parameters; another definition is a 409.',
  params: nameParams,
  body: z.strictObject({
    policy,
    dim: dim.optional(),
    params: policyParams.optional(),
    featureService: featureService.optional(),
  }),
  response: { 200: defined, 201: defined, 400: errorSchema, 409: errorSchema },
};

export const listBanditsRoute = {
  summary: 'Bandits',
  description: 'Names of every bandit, sorted.',
  response: { 200: z.object({ bandits: z.array(z.string()) }) },
};

export const banditSummaryRoute = {
  summary: 'A bandit and its statistics',
  description:
    'The definition and the shared statistics (feedback count, reward sum and mean per arm) as the store holds them now.',
  params: nameParams,
  response: {
    200: z.object({
      name: z.string(),
      ...definitionSchema.shape,
      version: z.int(),
      arms: z.array(
        z.object({ arm: z.string(), n: z.number(), rewardSum: z.number(), mean: z.number() }),
      ),
    }),
    400: errorSchema,
    404: errorSchema,
  },
};

const rewardRateShape = {
  n: z.int(),
  rewardSum: z.number(),
  rate: z.number().nullable(),
  low: z.number().nullable(),
  high: z.number().nullable(),
};
const rewardRate = z.object(rewardRateShape);

export const banditReportRoute = {
  summary: 'Arm shares and reward rate over time',
  description:
    'From the decision logs of every server process: per time bucket (at most 48), how often each arm was chosen and its share, and the reward rate with a 95% Wilson interval (rewards clamped to [0, 1]); per-arm totals.',
  params: nameParams,
  querystring: z.strictObject({
    from: z.string().optional().describe('ISO-8601 time: decisions from it (inclusive)'),
    to: z.string().optional().describe('ISO-8601 time: decisions before it'),
  }),
  response: {
    200: z.object({
      bandit: z.string(),
      from: z.string().nullable(),
      to: z.string().nullable(),
      bucketMs: z.int(),
      decisions: z.int(),
      impressions: z.int(),
      arms: z.array(z.string()),
      buckets: z.array(
        z.object({
          start: z.string(),
          decisions: z.int(),
          impressions: z.int(),
          chosen: z.array(z.int()),
          shares: z.array(z.number()),
          reward: rewardRate,
        }),
      ),
      totals: z.array(
        z.object({ arm: z.string(), chosen: z.int(), share: z.number(), ...rewardRateShape }),
      ),
      overall: rewardRate,
      clampedRewards: z.int(),
    }),
    400: errorSchema,
    404: errorSchema,
  },
};

export const deleteBanditRoute = {
  summary: 'Delete a bandit',
  description:
    'Deletes the bandit and its statistics; its pending decisions can no longer take feedback.',
  params: nameParams,
  response: { 204: z.null(), 400: errorSchema, 404: errorSchema },
};

export const decideRoute = {
  summary: 'Choose arms',
  description:
    "Chooses `slots` distinct arms among the candidates (slot 0 first) with the bandit's policy. Each propensity is the probability " +
    'that its arm was put at its slot given the earlier slots. The decision is logged and its id takes the feedback.',
  params: nameParams,
  body: z.strictObject({
    context: z
      .union([
        z.array(z.number()).max(MAX_DIM),
        z.strictObject({
          featureService: featureService
            .optional()
            .describe("feature service to read the context from (default: the bandit's)"),
          entity: z
            .record(z.string().max(128), z.union([z.string().max(1024), z.number()]))
            .refine((keys) => Object.keys(keys).length <= 16, 'at most 16 join keys')
            .describe('the join keys of the entity, e.g. {"user_id": "42"}; at most 16'),
        }),
      ])
      .optional()
      .describe(
        "the bandit's dim numbers, or a feature service and an entity whose online features are the context (missing or expired ones read as 0); may be left out when dim is 0",
      ),
    candidates: z.array(z.string().min(1).max(MAX_ARM_ID_LENGTH)).min(1).max(MAX_CANDIDATES),
    slots: z.int().min(1).default(1).describe('arms to choose (positions to fill)'),
  }),
  response: {
    200: z.object({
      decisionId: z.string(),
      arms: z.array(z.string()),
      propensities: z.array(z.number()),
      version: z.int().describe('statistics version of the policy that decided'),
      featureContext: z
        .object({
          featureService: z.string(),
          missing: z.int().describe('features the entity has no value of, read as 0'),
          expired: z.int().describe('features older than their TTL, read as 0'),
        })
        .optional()
        .describe('with a context read from a feature service'),
    }),
    400: errorSchema,
    404: errorSchema,
  },
};

export const feedbackRoute = {
  summary: 'Report rewards of a decision',
  description:
    "The rewards of a decision's arms: an array in slot order, or an object arm → reward (arms left out earned 0). Applied once: " +
    'a repeat is a 409 and is not counted; an unknown or expired decision is a 404. Answers when the rewards are in the shared statistics.',
  params: nameParams,
  body: z.strictObject({
    decisionId: z.string().min(1).max(64),
    rewards: z.union([z.array(z.number()).min(1), z.record(z.string(), z.number())]),
  }),
  response: {
    200: z.object({
      decisionId: z.string(),
      arms: z.array(z.string()),
      rewards: z.array(z.number()),
      version: z.int().describe('statistics version that includes this feedback'),
    }),
    400: errorSchema,
    404: errorSchema,
    409: errorSchema,
  },
};
