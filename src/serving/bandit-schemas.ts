/**
 * JSON schemas of the bandit API (`/v1/bandits…`), used to validate and serialise in fastify and
 * documented in `/openapi.json` through `@fastify/swagger`.
 */
import { POLICY_KINDS } from '../bandits/create-policy.js';
import { MAX_ARM_ID_LENGTH, MAX_DIM } from '../bandits/policy-support.js';
import { errorSchema } from './schemas.js';

/** Most candidates one decision takes. */
export const MAX_CANDIDATES = 10_000;

const nameParams = {
  type: 'object',
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'bandit name' },
  },
  required: ['name'],
} as const;

const definitionProperties = {
  policy: {
    type: 'string',
    enum: [...POLICY_KINDS],
    description:
      'egreedy, ucb1, bts (Bernoulli Thompson sampling), linucb or lints (linear Thompson sampling)',
  },
  dim: {
    type: 'integer',
    minimum: 0,
    maximum: MAX_DIM,
    description: 'context length (required for linucb and lints)',
  },
  params: {
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'policy parameters; defaults applied',
  },
} as const;

const definitionSchema = {
  type: 'object',
  properties: { ...definitionProperties, createdAt: { type: 'string' } },
  required: ['policy', 'dim', 'params', 'createdAt'],
} as const;

export const defineBanditRoute = {
  summary: 'Create a bandit',
  description:
    'Creates the bandit, or confirms it (200) when it exists with the same policy, dim and parameters; another definition is a 409.',
  params: nameParams,
  body: {
    type: 'object',
    properties: definitionProperties,
    required: ['policy'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        created: { type: 'boolean' },
        definition: definitionSchema,
      },
      required: ['name', 'created', 'definition'],
    },
    201: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        created: { type: 'boolean' },
        definition: definitionSchema,
      },
      required: ['name', 'created', 'definition'],
    },
    400: errorSchema,
    409: errorSchema,
  },
} as const;

export const listBanditsRoute = {
  summary: 'Bandits',
  description: 'Names of every bandit, sorted.',
  response: {
    200: {
      type: 'object',
      properties: { bandits: { type: 'array', items: { type: 'string' } } },
      required: ['bandits'],
    },
  },
} as const;

export const banditSummaryRoute = {
  summary: 'A bandit and its statistics',
  description:
    'The definition and the shared statistics (feedback count, reward sum and mean per arm) as the store holds them now.',
  params: nameParams,
  response: {
    200: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        ...definitionSchema.properties,
        version: { type: 'integer' },
        arms: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              arm: { type: 'string' },
              n: { type: 'number' },
              rewardSum: { type: 'number' },
              mean: { type: 'number' },
            },
            required: ['arm', 'n', 'rewardSum', 'mean'],
          },
        },
      },
      required: ['name', 'policy', 'dim', 'params', 'createdAt', 'version', 'arms'],
    },
    400: errorSchema,
    404: errorSchema,
  },
} as const;

const nullableNumber = { type: ['number', 'null'] } as const;
const rewardRateProperties = {
  n: { type: 'integer' },
  rewardSum: { type: 'number' },
  rate: nullableNumber,
  low: nullableNumber,
  high: nullableNumber,
} as const;
const rewardRateSchema = {
  type: 'object',
  properties: rewardRateProperties,
  required: ['n', 'rewardSum', 'rate', 'low', 'high'],
} as const;

export const banditReportRoute = {
  summary: 'Arm shares and reward rate over time',
  description:
    'From the decision logs of every server process: per time bucket (at most 48), how often each arm was chosen and its share, and the reward rate with a 95% Wilson interval (rewards clamped to [0, 1]); per-arm totals.',
  params: nameParams,
  querystring: {
    type: 'object',
    properties: {
      from: { type: 'string', description: 'ISO-8601 time: decisions from it (inclusive)' },
      to: { type: 'string', description: 'ISO-8601 time: decisions before it' },
    },
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        bandit: { type: 'string' },
        from: { type: ['string', 'null'] },
        to: { type: ['string', 'null'] },
        bucketMs: { type: 'integer' },
        decisions: { type: 'integer' },
        impressions: { type: 'integer' },
        arms: { type: 'array', items: { type: 'string' } },
        buckets: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              start: { type: 'string' },
              decisions: { type: 'integer' },
              impressions: { type: 'integer' },
              chosen: { type: 'array', items: { type: 'integer' } },
              shares: { type: 'array', items: { type: 'number' } },
              reward: rewardRateSchema,
            },
            required: ['start', 'decisions', 'impressions', 'chosen', 'shares', 'reward'],
          },
        },
        totals: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              arm: { type: 'string' },
              chosen: { type: 'integer' },
              share: { type: 'number' },
              ...rewardRateProperties,
            },
            required: ['arm', 'chosen', 'share', 'n', 'rewardSum', 'rate', 'low', 'high'],
          },
        },
        overall: rewardRateSchema,
        clampedRewards: { type: 'integer' },
      },
      required: [
        'bandit',
        'from',
        'to',
        'bucketMs',
        'decisions',
        'impressions',
        'arms',
        'buckets',
        'totals',
        'overall',
        'clampedRewards',
      ],
    },
    400: errorSchema,
    404: errorSchema,
  },
} as const;

export const deleteBanditRoute = {
  summary: 'Delete a bandit',
  description:
    'Deletes the bandit and its statistics; its pending decisions can no longer take feedback.',
  params: nameParams,
  response: { 204: { type: 'null' }, 400: errorSchema, 404: errorSchema },
} as const;

export const decideRoute = {
  summary: 'Choose arms',
  description:
    "Chooses `slots` distinct arms among the candidates (slot 0 first) with the bandit's policy. Each propensity is the probability " +
    'that its arm was put at its slot given the earlier slots. The decision is logged and its id takes the feedback.',
  params: nameParams,
  body: {
    type: 'object',
    properties: {
      context: {
        type: 'array',
        items: { type: 'number' },
        maxItems: MAX_DIM,
        description: "the bandit's dim numbers; may be left out when dim is 0",
      },
      candidates: {
        type: 'array',
        items: { type: 'string', minLength: 1, maxLength: MAX_ARM_ID_LENGTH },
        minItems: 1,
        maxItems: MAX_CANDIDATES,
      },
      slots: {
        type: 'integer',
        minimum: 1,
        default: 1,
        description: 'arms to choose (positions to fill)',
      },
    },
    required: ['candidates'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        decisionId: { type: 'string' },
        arms: { type: 'array', items: { type: 'string' } },
        propensities: { type: 'array', items: { type: 'number' } },
        version: { type: 'integer', description: 'statistics version of the policy that decided' },
      },
      required: ['decisionId', 'arms', 'propensities', 'version'],
    },
    400: errorSchema,
    404: errorSchema,
  },
} as const;

export const feedbackRoute = {
  summary: 'Report rewards of a decision',
  description:
    "The rewards of a decision's arms: an array in slot order, or an object arm → reward (arms left out earned 0). Applied once: " +
    'a repeat is a 409 and is not counted; an unknown or expired decision is a 404. Answers when the rewards are in the shared statistics.',
  params: nameParams,
  body: {
    type: 'object',
    properties: {
      decisionId: { type: 'string', minLength: 1, maxLength: 64 },
      rewards: {
        anyOf: [
          { type: 'array', items: { type: 'number' }, minItems: 1 },
          { type: 'object', additionalProperties: { type: 'number' } },
        ],
      },
    },
    required: ['decisionId', 'rewards'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        decisionId: { type: 'string' },
        arms: { type: 'array', items: { type: 'string' } },
        rewards: { type: 'array', items: { type: 'number' } },
        version: { type: 'integer', description: 'statistics version that includes this feedback' },
      },
      required: ['decisionId', 'arms', 'rewards', 'version'],
    },
    400: errorSchema,
    404: errorSchema,
    409: errorSchema,
  },
} as const;
