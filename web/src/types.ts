/**
 * The JSON the API answers with. Where a route's schema states its answer (the bandit routes),
 * the type is an alias of the one generated from `/openapi.json` (./api-types.ts, `npm run
 * gen:api-types`); the workflow and experiment answers have no response schema yet and are
 * written here: they mirror the store's types in src/workflow and src/experiments, with dates as
 * ISO-8601 strings because that is how they travel.
 */
import type { paths } from './api-types.js';

export type RunStatus = 'running' | 'succeeded' | 'failed';
export type TaskState =
  | 'pending'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'upstream_failed';
export type AttemptStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';
export type ParamValue = string | number | boolean;

export interface Schedule {
  cron: string;
  timezone: string;
  catchUp: 'skip' | 'run';
}

export interface TaskDefinition {
  name: string;
  kind: string;
  run?: string;
  needs: string[];
  retry: { count: number; backoffMs: number; maxBackoffMs: number };
  timeoutMs: number | null;
}

export interface WorkflowDefinition {
  name: string;
  description?: string;
  schedule?: Schedule;
  params: Record<string, ParamValue>;
  tasks: TaskDefinition[];
  source: string;
}

export interface Run {
  id: string;
  workflow: string;
  logicalDate: string;
  trigger: 'manual' | 'schedule' | 'backfill';
  status: RunStatus;
  params: Record<string, ParamValue>;
  /** Only on single-run answers, not in lists. */
  definition?: WorkflowDefinition;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  owner: string | null;
}

export interface TaskRun {
  runId: string;
  task: string;
  status: TaskState;
  attempt: number;
  failures: number;
  startedAt: string | null;
  finishedAt: string | null;
  nextAttemptAt: string | null;
  error: string | null;
}

export interface TaskAttempt {
  runId: string;
  task: string;
  attempt: number;
  status: AttemptStatus;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  worker: string | null;
}

export interface LogLine {
  seq: number;
  task: string;
  attempt: number;
  at: string;
  stream: 'stdout' | 'stderr' | 'log';
  line: string;
}

export interface WorkflowSummary {
  name: string;
  description?: string;
  source: string;
  schedule?: Schedule;
  nextRunAt: string | null;
  lastRun: Run | null;
  tasks: { name: string; kind: string; needs: string[] }[];
}

/** A workflow file the server left out because it failed validation, with every problem. */
export interface InvalidWorkflowFile {
  file: string;
  problems: { file: string; line: number; path: string; message: string }[];
}

export interface RunDetail {
  run: Run & { definition: WorkflowDefinition };
  tasks: TaskRun[];
  attempts: TaskAttempt[];
}

/** The JSON body of a route's 200 answer, from the generated API types. */
type Ok<
  Path extends keyof paths,
  Method extends 'get' | 'post' | 'put',
> = paths[Path][Method] extends {
  responses: { 200: { content: { 'application/json': infer Body } } };
}
  ? Body
  : never;

/** `GET /v1/bandits/{name}/report`: arm shares and reward rate per time bucket, and per-arm totals (generated from the route schema). */
export type BanditReport = Ok<'/v1/bandits/{name}/report', 'get'>;

/** A reward rate with its 95% Wilson interval (null without feedback); see `src/bandits/bandit-report.ts`. */
export type RewardRate = BanditReport['overall'];

/** `GET /v1/bandits`: the bandits' names, sorted (generated from the route schema). */
export type BanditList = Ok<'/v1/bandits', 'get'>;

/** `GET /v1/features/views`: the served feature views with freshness (generated from the route schema). */
export type FeatureViewList = Ok<'/v1/features/views', 'get'>;

/** One feature view as the catalogue answers it (definition, services, registry, freshness). */
export type FeatureView = FeatureViewList['views'][number];

/** `GET /v1/features/views/{view}`: one view, its services and a sample of online values. */
export type FeatureViewDetail = Ok<'/v1/features/views/{view}', 'get'>;

/** An A/B experiment as `GET /v1/experiments` returns it (mirrors `experiments/experiment.ts`). */
export interface Experiment {
  name: string;
  description: string;
  variants: { name: string; weight: number }[];
  control: string;
  salt: string;
  layer: string;
  traffic: number;
  targeting: { attribute: string; op: string; value?: unknown }[];
  status: 'draft' | 'running' | 'stopped';
  startAt: string | null;
  stopAt: string | null;
  layerRange: [number, number];
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** An estimate with its confidence interval. */
export interface Interval {
  estimate: number;
  ci: [number, number];
}

/** `GET /v1/experiments/{name}/results` (mirrors `experiments/analyze-metric.ts`). */
export interface ExperimentAnalysis {
  experiment: string;
  status: Experiment['status'];
  metrics: string[];
  metric: string;
  kind: 'conversion' | 'value';
  control: string;
  alternative: 'two-sided' | 'greater' | 'less';
  confidence: number;
  variants: {
    variant: string;
    units: number;
    share: number;
    expectedShare: number;
    conversions: number | null;
    rate: number | null;
    mean: number;
    variance: number | null;
  }[];
  comparisons: {
    variant: string;
    test: string;
    difference: Interval;
    relative: Interval | null;
    statistic: number;
    df: number | null;
    pValue: number;
    significant: boolean;
    cuped: {
      theta: number;
      varianceReduction: number;
      difference: Interval;
      relative: Interval | null;
      pValue: number;
      significant: boolean;
    } | null;
    sequential: { pValue: number; ci: [number, number]; tau: number; looks: number };
    probabilityToBeatControl: number;
  }[];
  srm: { chi2: number; df: number; pValue: number; mismatch: boolean };
  timeline: {
    until: string;
    units: Record<string, number>;
    means: Record<string, number>;
    lift: Record<string, Interval | null>;
  }[];
  warnings: string[];
  quality: { multiVariantUnits: number; unknownVariantUnits: number; unexposedEvents: number };
}

/** `GET /v1/me`: the signed-in caller and its scopes. */
export type Me = paths['/v1/me']['get']['responses'][200]['content']['application/json'];
