/**
 * JSON schemas of the A/B testing routes that services call at volume (assignment, events):
 * validated by fastify and documented in `/openapi.json`. The definition and results routes
 * check their input in `experiments/` (naming the field) and answer plain JSON.
 */
import { errorSchema } from './schemas.js';
import { MAX_EVENTS_PER_BATCH } from '../experiments/experiment-service.js';

export const assignmentsRoute = {
  summary: "A unit's variants",
  description:
    'Every running experiment the unit is in, with its variant: `unit` names the unit; every other query parameter is an attribute for targeting (`?unit=u42&country=JP&age=31`). The same answer as `assignUnit` from the definitions of `GET /v1/experiments?status=running`.',
  querystring: {
    type: 'object',
    properties: { unit: { type: 'string', minLength: 1, maxLength: 200 } },
    required: ['unit'],
    additionalProperties: true,
  },
  response: {
    200: {
      type: 'object',
      properties: {
        unit: { type: 'string' },
        assignments: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              experiment: { type: 'string' },
              variant: { type: 'string' },
              layer: { type: 'string' },
            },
            required: ['experiment', 'variant', 'layer'],
          },
        },
      },
      required: ['unit', 'assignments'],
    },
    400: errorSchema,
  },
} as const;

export const eventsRoute = {
  summary: 'Ingest experiment events',
  description: `A batch of up to ${MAX_EVENTS_PER_BATCH} exposure, conversion and value events, stored in one transaction (all or none); an event id stored before is skipped, so a retried batch is counted once. An event of an experiment that is not defined is a 404, an exposure to a variant the experiment does not have a 400, naming the event; the batch is then not stored.`,
  body: {
    type: 'object',
    properties: {
      events: {
        type: 'array',
        maxItems: MAX_EVENTS_PER_BATCH,
        items: {
          type: 'object',
          properties: {
            eventId: { type: 'string' },
            type: { type: 'string', enum: ['exposure', 'conversion', 'value'] },
            experiment: { type: 'string' },
            unit: { type: 'string' },
            variant: { type: 'string', description: 'exposures' },
            metric: { type: 'string', description: 'conversions and values' },
            value: { type: 'number', description: 'value events' },
            time: { type: ['string', 'number'], description: 'ISO-8601 or epoch ms; default now' },
          },
          required: ['eventId', 'type', 'experiment', 'unit'],
        },
      },
    },
    required: ['events'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'object',
      properties: { accepted: { type: 'integer' }, duplicates: { type: 'integer' } },
      required: ['accepted', 'duplicates'],
    },
    400: errorSchema,
    404: errorSchema,
  },
} as const;
