import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.js';
import { checkRunParams } from '../../pipeline/run-param-policy.js';
import type { WorkflowService } from '../../workflow/workflow-service.js';
import type { TaskAttempt, TaskRun, WorkflowRun } from '../../workflow/workflow-store.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link workflowRoutes}. */
export interface WorkflowRoutesOptions {
  /** Answers every workflow and run route. */
  service: WorkflowService;
  /** How often a run's event stream looks at the store for changes, in ms. @defaultValue 500 */
  pollMs?: number;
  /**
   * Files named through run parameters must lie inside this directory; store URLs and module
   * paths never come from run parameters (see {@link checkRunParams}). @defaultValue the working directory
   */
  dataRoot?: string;
}

/** A run without its definition snapshot: what lists carry (the definition is the bulky part). */
export type RunListing = Omit<WorkflowRun, 'definition'>;

/** A run with everything the run page draws: tasks (definition order) and every attempt. */
export interface RunDetail {
  run: WorkflowRun;
  tasks: TaskRun[];
  attempts: TaskAttempt[];
}

const NAME = z.string().min(1).max(200);
/** A page size: query strings are text, so the number is read from it (`?limit=5`). */
const LIMIT = (max: number, def: number) => z.coerce.number().int().min(1).max(max).default(def);
const RUN_STATUS = z.enum(['running', 'succeeded', 'failed']);
const PARAM_VALUE = z.union([z.string(), z.number(), z.boolean()]);

const nameParams = z.object({ name: NAME.describe('workflow name') });
const idParams = z.object({ id: NAME.describe('run id') });
const runStarted = z.object({ runId: z.string() });

/*
 * Answers other than a started run's id have no response schema (and so no error ones: the type
 * provider would then take the error shape for the handler's whole answer): they are the workflow store's
 * types (runs, tasks, attempts, log lines with `Date`s, definitions that grow with new task
 * kinds), which the dashboard mirrors by hand in web/src/types.ts. A schema that lagged behind
 * would silently drop fields from the answers.
 */

/**
 * The workflow API the dashboard (and scripts) use: workflows and their runs, starting and
 * retrying runs, task logs (followed with `afterSeq`), and a Server-Sent Events stream per run
 * (a fastify plugin; open streams end when the app closes).
 * Errors go through the app's error handler: unknown workflows and runs are 404, bad input 400
 * naming the field, retrying a run that has not failed 409.
 *
 * Dates are ISO-8601 strings in every response (they are `Date`s in the store).
 *
 * @example
 * const app = Fastify();
 * app.register(workflowRoutes, { service: workflows, dataRoot: '/srv/data' });
 */
export async function workflowRoutes(
  app: FastifyInstance,
  options: WorkflowRoutesOptions,
): Promise<void> {
  const { service } = options;
  const pollMs = options.pollMs ?? 500;
  const store = service.store;
  const streams = new Set<ServerResponse>();
  // Event streams never end on their own while a run is running; without this, close() would
  // wait for every open dashboard tab.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  const api = app.withTypeProvider<ZodTypeProvider>();

  // Invalid files are listed with their problems, so that a typo does not make a workflow vanish.
  api.get(
    '/v1/workflows',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: 'Workflows',
        description:
          'Every valid workflow file with its schedule, next run and last run; invalid files with their problems.',
      },
    },
    async () => ({
      workflows: await service.listWorkflows(),
      invalid: await service.listInvalidWorkflows(),
    }),
  );

  api.get(
    '/v1/workflows/:name',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: 'A workflow',
        description: 'The definition, the next scheduled run and the latest runs, newest first.',
        params: nameParams,
        querystring: z.strictObject({ limit: LIMIT(500, 20).describe('most runs listed') }),
      },
    },
    async (request) => {
      const { name } = request.params;
      const workflow = await requireWorkflow(service, name);
      const summary = (await service.listWorkflows()).find((w) => w.name === name);
      const runs = await store.listRuns({ workflow: name, limit: request.query.limit });
      return { workflow, nextRunAt: summary?.nextRunAt ?? null, runs: runs.map(listing) };
    },
  );

  api.get(
    '/v1/workflows/:name/runs',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: "A workflow's runs",
        description: 'The latest runs of the workflow, newest first, without their definitions.',
        params: nameParams,
        querystring: z.strictObject({ limit: LIMIT(500, 50).describe('most runs listed') }),
      },
    },
    async (request) => {
      await requireWorkflow(service, request.params.name);
      const runs = await store.listRuns({
        workflow: request.params.name,
        limit: request.query.limit,
      });
      return { runs: runs.map(listing) };
    },
  );

  api.post(
    '/v1/workflows/:name/runs',
    {
      config: { scopes: ['workflows:run'] },
      schema: {
        summary: 'Start a run',
        description:
          "Starts a run of the workflow (202 with its id), for a logical date (default today) with parameters overriding the workflow's. Parameters may not name stores or modules, and files they name must lie in the data root.",
        params: nameParams,
        body: z
          .strictObject({
            logicalDate: z.string().min(1).optional(),
            params: z.record(z.string(), PARAM_VALUE).optional(),
          })
          .nullable(),
        response: { 202: runStarted, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      if (body.params !== undefined)
        checkRunParams(await requireWorkflow(service, request.params.name), body.params, {
          dataRoot: options.dataRoot ?? process.cwd(),
          allowStores: false,
        });
      const runId = await service.startRun(request.params.name, {
        ...(body.logicalDate === undefined ? {} : { logicalDate: body.logicalDate }),
        ...(body.params === undefined ? {} : { params: body.params }),
      });
      return reply.status(202).send({ runId });
    },
  );

  api.get(
    '/v1/runs',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: 'Runs',
        description:
          'The latest runs of every workflow (or one), newest first, optionally by status.',
        querystring: z.strictObject({
          status: RUN_STATUS.optional(),
          workflow: NAME.optional(),
          limit: LIMIT(500, 50).describe('most runs listed'),
        }),
      },
    },
    async (request) => {
      const { status, workflow, limit } = request.query;
      const runs = await store.listRuns({
        limit,
        ...(status === undefined ? {} : { status }),
        ...(workflow === undefined ? {} : { workflow }),
      });
      return { runs: runs.map(listing) };
    },
  );

  api.get(
    '/v1/runs/:id',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: 'A run',
        description:
          'The run with its definition, its tasks (in definition order) and every attempt.',
        params: idParams,
      },
    },
    async (request) => {
      const detail = await runDetail(service, request.params.id);
      if (detail === null) throw new NotFoundError(`workflow run "${request.params.id}"`);
      return detail;
    },
  );

  api.get(
    '/v1/runs/:id/tasks/:task/logs',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: "A task's log",
        description:
          "Log lines of the task (one attempt, or all), after `afterSeq`: pass the answer's `lastSeq` next time to follow the log.",
        params: z.object({ id: NAME, task: NAME }),
        querystring: z.strictObject({
          attempt: z.coerce.number().int().min(1).optional(),
          afterSeq: z.coerce.number().int().min(0).optional(),
          limit: LIMIT(5000, 1000).describe('most lines returned'),
        }),
      },
    },
    async (request) => {
      const { id, task } = request.params;
      const { attempt, afterSeq, limit } = request.query;
      const run = await store.getRun(id);
      if (run === null) throw new NotFoundError(`workflow run "${id}"`);
      if (!run.definition.tasks.some((t) => t.name === task))
        throw new NotFoundError(`task "${task}" of run "${id}"`);
      const lines = await store.readLogs(id, task, {
        limit,
        ...(attempt === undefined ? {} : { attempt }),
        ...(afterSeq === undefined ? {} : { afterSeq }),
      });
      // `lastSeq` is what to pass as `afterSeq` next time, even when nothing new was written.
      return { lines, lastSeq: lines.at(-1)?.seq ?? afterSeq ?? 0, more: lines.length === limit };
    },
  );

  api.post(
    '/v1/runs/:id/retry',
    {
      config: { scopes: ['workflows:run'] },
      schema: {
        summary: 'Retry a failed run',
        description: 'Runs the failed and upstream-failed tasks of a failed run again (202).',
        params: idParams,
        response: { 202: runStarted, 400: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request, reply) => {
      await service.retryRun(request.params.id);
      return reply.status(202).send({ runId: request.params.id });
    },
  );

  api.get(
    '/v1/runs/:id/events',
    {
      config: { scopes: ['workflows:read'] },
      schema: {
        summary: "A run's events",
        description:
          'Server-Sent Events: `run` with the run detail (as `GET /v1/runs/{id}`) whenever it changes, `end` when the run has finished, `gone` when it was deleted.',
        params: idParams,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const first = await runDetail(service, id);
      if (first === null) throw new NotFoundError(`workflow run "${id}"`);
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Proxies such as nginx would otherwise buffer the stream until it ends.
        'x-accel-buffering': 'no',
      });
      streams.add(out);
      let closed = false;
      let timer: NodeJS.Timeout | undefined;
      const close = (): void => {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        streams.delete(out);
        if (!out.writableEnded) out.end();
      };
      request.raw.on('close', close);
      out.on('close', close);

      let last = '';
      const push = (detail: RunDetail): void => {
        // Heartbeats alone are no news to a viewer; compare without them.
        const key = JSON.stringify({ ...detail, run: { ...detail.run, heartbeatAt: null } });
        if (key === last) return;
        last = key;
        out.write(`event: run\ndata: ${JSON.stringify(detail)}\n\n`);
      };
      const tick = async (): Promise<void> => {
        if (closed) return;
        try {
          const detail = await runDetail(service, id);
          if (closed) return;
          if (detail === null) {
            out.write(`event: gone\ndata: {}\n\n`);
            return close();
          }
          push(detail);
          // The final state has been sent: tell the client so it does not reconnect.
          if (detail.run.status !== 'running') {
            out.write(`event: end\ndata: {}\n\n`);
            return close();
          }
        } catch (error) {
          app.log.warn({ err: error, runId: id }, 'run event stream: store read failed; retrying');
        }
        timer = setTimeout(() => void tick(), pollMs);
      };
      out.write(`retry: ${Math.max(1000, pollMs * 2)}\n\n`);
      push(first);
      if (first.run.status !== 'running') {
        out.write(`event: end\ndata: {}\n\n`);
        close();
      } else timer = setTimeout(() => void tick(), pollMs);
    },
  );
}

async function requireWorkflow(service: WorkflowService, name: string) {
  const workflow = await service.getWorkflow(name);
  if (workflow === null) throw new NotFoundError(`workflow "${name}"`);
  return workflow;
}

async function runDetail(service: WorkflowService, id: string): Promise<RunDetail | null> {
  const run = await service.store.getRun(id);
  if (run === null) return null;
  const [tasks, attempts] = await Promise.all([
    service.store.getTasks(id),
    service.store.listAttempts(id),
  ]);
  return {
    run: { ...run, error: publicRunError(run) },
    tasks: tasks.map((t) => ({
      ...t,
      error: publicError(t.error, `${id}/${t.task}#${t.attempt}`),
    })),
    attempts: attempts.map((a) => ({
      ...a,
      error: publicError(a.error, `${id}/${a.task}#${a.attempt}`),
    })),
  };
}

function listing(run: WorkflowRun): RunListing {
  const { definition: _definition, ...rest } = run;
  return { ...rest, error: publicRunError(run) };
}

/** Failures whose text kiban wrote itself and that say nothing of the data, kept as they are. */
const SAFE_FAILURES = [
  /^timed out after [\d.]+m?s$/,
  /^cancelled$/,
  /^command exited with code \d+/,
  /^command was killed by SIG[A-Z0-9]+/,
];

/**
 * A task error as the HTTP API shows it: what kind of failure it was and a reference to the
 * task's log, where the details are (messages may hold SQL, absolute paths, file contents or
 * stacks, which a caller of the API must not read through the error).
 */
function publicError(error: string | null, ref: string): string | null {
  if (error === null) return null;
  const safe = SAFE_FAILURES.map((re) => re.exec(error)?.[0]).find((m) => m !== undefined);
  return `${safe ?? 'the task failed'}; details in the task log (ref ${ref})`;
}

function publicRunError(run: WorkflowRun): string | null {
  if (run.error === null) return null;
  const task = /^task (\S+) failed/.exec(run.error)?.[1];
  return task === undefined
    ? `the run failed; details in the task logs (ref ${run.id})`
    : `task ${task} failed; details in its log (ref ${run.id}/${task})`;
}
