import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { NotFoundError } from '../../core/errors.js';
import { checkRunParams } from '../../pipeline/run-param-policy.js';
import type { WorkflowService } from '../../workflow/workflow-service.js';
import type { TaskAttempt, TaskRun, WorkflowRun } from '../../workflow/workflow-store.js';

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

const NAME = { type: 'string', minLength: 1, maxLength: 200 } as const;
const LIMIT = (max: number, def: number) =>
  ({ type: 'integer', minimum: 1, maximum: max, default: def }) as const;
const RUN_STATUS = { type: 'string', enum: ['running', 'succeeded', 'failed'] } as const;
const PARAM_VALUE = { type: ['string', 'number', 'boolean'] } as const;

const nameParams = { type: 'object', properties: { name: NAME }, required: ['name'] } as const;
const idParams = { type: 'object', properties: { id: NAME }, required: ['id'] } as const;

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

  // Invalid files are listed with their problems, so that a typo does not make a workflow vanish.
  app.get('/v1/workflows', async () => ({
    workflows: await service.listWorkflows(),
    invalid: await service.listInvalidWorkflows(),
  }));

  app.get<{ Params: { name: string }; Querystring: { limit: number } }>(
    '/v1/workflows/:name',
    {
      schema: {
        params: nameParams,
        querystring: {
          type: 'object',
          properties: { limit: LIMIT(500, 20) },
          additionalProperties: false,
        },
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

  app.get<{ Params: { name: string }; Querystring: { limit: number } }>(
    '/v1/workflows/:name/runs',
    {
      schema: {
        params: nameParams,
        querystring: {
          type: 'object',
          properties: { limit: LIMIT(500, 50) },
          additionalProperties: false,
        },
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

  app.post<{
    Params: { name: string };
    Body: { logicalDate?: string; params?: Record<string, string | number | boolean> } | undefined;
  }>(
    '/v1/workflows/:name/runs',
    {
      schema: {
        params: nameParams,
        body: {
          type: ['object', 'null'],
          properties: {
            logicalDate: { type: 'string', minLength: 1 },
            params: { type: 'object', additionalProperties: PARAM_VALUE },
          },
          additionalProperties: false,
        },
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

  app.get<{ Querystring: { status?: WorkflowRun['status']; workflow?: string; limit: number } }>(
    '/v1/runs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { status: RUN_STATUS, workflow: NAME, limit: LIMIT(500, 50) },
          additionalProperties: false,
        },
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

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id',
    { schema: { params: idParams } },
    async (request) => {
      const detail = await runDetail(service, request.params.id);
      if (detail === null) throw new NotFoundError(`workflow run "${request.params.id}"`);
      return detail;
    },
  );

  app.get<{
    Params: { id: string; task: string };
    Querystring: { attempt?: number; afterSeq?: number; limit: number };
  }>(
    '/v1/runs/:id/tasks/:task/logs',
    {
      schema: {
        params: { type: 'object', properties: { id: NAME, task: NAME }, required: ['id', 'task'] },
        querystring: {
          type: 'object',
          properties: {
            attempt: { type: 'integer', minimum: 1 },
            afterSeq: { type: 'integer', minimum: 0 },
            limit: LIMIT(5000, 1000),
          },
          additionalProperties: false,
        },
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

  app.post<{ Params: { id: string } }>(
    '/v1/runs/:id/retry',
    { schema: { params: idParams } },
    async (request, reply) => {
      await service.retryRun(request.params.id);
      return reply.status(202).send({ runId: request.params.id });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/runs/:id/events',
    { schema: { params: idParams } },
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
