import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidArgumentError } from '../../core/errors.js';
import {
  type InteractionEvent,
  type InteractionStore,
  MAX_INTERACTION_ID_LENGTH,
  MAX_INTERACTIONS_PER_APPEND,
} from '../../storage/interaction-store.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link interactionRoutes}. */
export interface InteractionRoutesOptions {
  /** Where the events are kept (`metadata.interactions`). */
  interactions: Pick<InteractionStore, 'append'>;
}

const id = z.string().min(1).max(MAX_INTERACTION_ID_LENGTH);

const interactionsRoute = {
  summary: 'Record user–item interactions',
  description: `Up to ${MAX_INTERACTIONS_PER_APPEND} user–item events (a click, a view, a purchase), stored in one transaction. An event with an \`id\` stored before is skipped, so a retried request is counted once. A user's events written after the published batch change their recommendations at once when the published model embeds users (graphsage, gat), and are kept for the next batch. \`ts\` is ISO-8601 or epoch milliseconds (default now), \`weight\` a finite number (default 1).`,
  body: z.strictObject({
    events: z
      .array(
        z.strictObject({
          user: id.describe('the external user id'),
          item: id.describe('the external item id'),
          ts: z
            .union([z.string(), z.number()])
            .optional()
            .describe('when it happened: ISO-8601 or epoch ms; default now'),
          weight: z.number().optional().describe('default 1'),
          id: id.optional().describe('idempotency key: an id stored before is skipped'),
        }),
      )
      .min(1)
      .max(MAX_INTERACTIONS_PER_APPEND),
  }),
  response: {
    200: z.object({ accepted: z.int(), duplicates: z.int() }),
    400: errorSchema,
  },
};

/**
 * `POST /v1/interactions` (a fastify plugin, scope `events:write`, not in the audit log: data-plane
 * ingestion like `/v1/events`) → `{accepted, duplicates}`. A malformed event is a 400 naming it
 * (`body.events[2].ts`) and nothing of the request is stored.
 *
 * It is its own route rather than more event types of `POST /v1/events`: those events each belong
 * to an A/B experiment (an unknown experiment is a 404, a variant is checked against it) and are
 * analysed per experiment, while interactions belong to the recommendation data and need no
 * experiment; the two share the `events:write` scope.
 *
 * @example
 * ```sh
 * curl -X POST localhost:8080/v1/interactions -H 'content-type: application/json' \
 *   -d '{"events":[{"user":"new-1","item":"589"},{"user":"new-1","item":"1200","id":"e-2"}]}'
 * ```
 */
export async function interactionRoutes(
  app: FastifyInstance,
  { interactions }: InteractionRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.post(
    '/interactions',
    { schema: interactionsRoute, config: { scopes: ['events:write'], audit: false } },
    async (request) => {
      const now = Date.now();
      const events: InteractionEvent[] = request.body.events.map((e, i) => {
        const weight = e.weight ?? 1;
        if (!Number.isFinite(weight))
          throw new InvalidArgumentError(`body.events[${i}].weight`, 'must be a finite number');
        return {
          user: e.user,
          item: e.item,
          at: eventTime(e.ts, now, `body.events[${i}].ts`),
          weight,
          ...(e.id === undefined ? {} : { id: e.id }),
        };
      });
      return interactions.append(events);
    },
  );
}

/** `ts` as a Date: ISO-8601 text or epoch milliseconds; `now` when absent. */
function eventTime(ts: string | number | undefined, now: number, field: string): Date {
  if (ts === undefined) return new Date(now);
  const ms = typeof ts === 'number' ? ts : Date.parse(ts);
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15)
    throw new InvalidArgumentError(
      field,
      `must be an ISO-8601 time or epoch milliseconds, got ${JSON.stringify(ts)}`,
    );
  return new Date(ms);
}
