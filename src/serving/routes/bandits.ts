import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { BanditService } from '../../bandits/bandit-service.js';
import {
  banditReportRoute,
  banditSummaryRoute,
  decideRoute,
  defineBanditRoute,
  deleteBanditRoute,
  feedbackRoute,
  listBanditsRoute,
} from '../bandit-schemas.js';

/**
 * Who may read bandits (list, summary, report): administrators, and the services that decide,
 * which need a bandit's arms and statistics; only `bandits:admin` defines and deletes.
 */
const BANDIT_READERS = ['bandits:admin', 'bandits:decide'] as const;

/** Options of {@link banditRoutes}. */
export interface BanditRoutesOptions {
  /** Answers every bandit route; started when the app is ready and closed with it. */
  service: BanditService;
}

/**
 * The bandit API over `service` (a fastify plugin):
 * - `PUT /v1/bandits/{name}` `{policy, dim?, params?, featureService?}` → 201 created, 200 same definition, 409 another one;
 * - `GET /v1/bandits` → `{bandits}`; `GET /v1/bandits/{name}` → definition and shared statistics; `DELETE` → 204;
 * - `POST /v1/bandits/{name}/decide` `{context?, candidates, slots?}` → `{decisionId, arms, propensities, version}`;
 *   `context` is `dim` numbers or `{featureService?, entity}`, read from the online feature store;
 * - `POST /v1/bandits/{name}/feedback` `{decisionId, rewards}` → `{decisionId, arms, rewards, version}`;
 * - `GET /v1/bandits/{name}/report?from&to` → arm selection shares and reward rate over time (`BanditReport`) of the decisions in [from, to), from the decision logs.
 *
 * Scopes: define and delete need `bandits:admin`; list, summary and report `bandits:admin` or
 * `bandits:decide`; decide and feedback `bandits:decide`.
 *
 * Unknown bandits and decisions are 404s, repeated feedback a 409, malformed input a 400 naming the
 * field. Starts the service's poll when the app is ready and drains its feedback when it closes.
 */
export async function banditRoutes(
  app: FastifyInstance,
  { service }: BanditRoutesOptions,
): Promise<void> {
  app.addHook('onReady', async () => service.start());
  app.addHook('onClose', async () => service.close());
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.put(
    '/v1/bandits/:name',
    { schema: defineBanditRoute, config: { scopes: ['bandits:admin'] } },
    async (request, reply) => {
      const { name } = request.params;
      const { created, definition } = await service.define(name, request.body);
      const { generation: _, ...shown } = definition;
      return reply.status(created ? 201 : 200).send({ name, created, definition: shown });
    },
  );

  api.get(
    '/v1/bandits',
    { schema: listBanditsRoute, config: { scopes: BANDIT_READERS } },
    async () => ({
      bandits: await service.list(),
    }),
  );

  api.get(
    '/v1/bandits/:name',
    { schema: banditSummaryRoute, config: { scopes: BANDIT_READERS } },
    async (request) => service.summary(request.params.name),
  );

  api.get(
    '/v1/bandits/:name/report',
    { schema: banditReportRoute, config: { scopes: BANDIT_READERS } },
    async (request) =>
      service.report(request.params.name, { from: request.query.from, to: request.query.to }),
  );

  api.delete(
    '/v1/bandits/:name',
    { schema: deleteBanditRoute, config: { scopes: ['bandits:admin'] } },
    async (request, reply) => {
      await service.remove(request.params.name);
      // No body at all: 204 (the schema's null documents that, not a payload to write).
      return (reply as FastifyReply).status(204).send();
    },
  );

  api.post(
    '/v1/bandits/:name/decide',
    // Data plane, already in the decision log: not in the audit log (see audit-plugin.ts).
    { schema: decideRoute, config: { scopes: ['bandits:decide'], audit: false } },
    async (request) => service.decide(request.params.name, request.body),
  );

  api.post(
    '/v1/bandits/:name/feedback',
    { schema: feedbackRoute, config: { scopes: ['bandits:decide'], audit: false } },
    async (request) => service.feedback(request.params.name, request.body),
  );
}
