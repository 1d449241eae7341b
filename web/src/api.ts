import type {
  InvalidWorkflowFile,
  BanditList,
  BanditReport,
  Experiment,
  ExperimentAnalysis,
  FeatureViewDetail,
  FeatureViewList,
  LogLine,
  Me,
  ParamValue,
  Run,
  RunDetail,
  WorkflowDefinition,
  WorkflowSummary,
} from './types.js';

/** An error answer of the API: its `{code, message}` body and status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The readable `kiban_csrf` cookie a login sets: echoed in X-CSRF-Token on writes (CSRF check). */
function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)kiban_csrf=([^;]+)/.exec(document.cookie);
  return match?.[1];
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const csrf = method === 'GET' ? undefined : csrfToken();
  const res = await fetch(path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = text.length > 0 ? (JSON.parse(text) as unknown) : {};
  if (!res.ok) {
    const err = json as { code?: string; message?: string };
    throw new ApiError(res.status, err.code ?? 'HTTP_' + res.status, err.message ?? res.statusText);
  }
  return json as T;
}

/** The dashboard's calls, one per endpoint it uses. */
export const api = {
  workflows: () =>
    request<{ workflows: WorkflowSummary[]; invalid?: InvalidWorkflowFile[] }>(
      'GET',
      '/v1/workflows',
    ),
  workflow: (name: string) =>
    request<{ workflow: WorkflowDefinition; nextRunAt: string | null; runs: Run[] }>(
      'GET',
      `/v1/workflows/${encodeURIComponent(name)}?limit=50`,
    ),
  startRun: (
    name: string,
    body: { logicalDate?: string; params?: Record<string, ParamValue> } = {},
  ) => request<{ runId: string }>('POST', `/v1/workflows/${encodeURIComponent(name)}/runs`, body),
  run: (id: string) => request<RunDetail>('GET', `/v1/runs/${encodeURIComponent(id)}`),
  retry: (id: string) =>
    request<{ runId: string }>('POST', `/v1/runs/${encodeURIComponent(id)}/retry`),
  logs: (id: string, task: string, options: { attempt?: number; afterSeq?: number }) => {
    const q = new URLSearchParams();
    if (options.attempt !== undefined) q.set('attempt', String(options.attempt));
    if (options.afterSeq !== undefined) q.set('afterSeq', String(options.afterSeq));
    return request<{ lines: LogLine[]; lastSeq: number; more: boolean }>(
      'GET',
      `/v1/runs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/logs?${q}`,
    );
  },
  bandits: () => request<BanditList>('GET', '/v1/bandits'),
  banditReport: (name: string) =>
    request<BanditReport>('GET', `/v1/bandits/${encodeURIComponent(name)}/report`),
  experiments: () => request<{ experiments: Experiment[] }>('GET', '/v1/experiments'),
  experiment: (name: string) =>
    request<Experiment>('GET', `/v1/experiments/${encodeURIComponent(name)}`),
  experimentResults: (name: string, metric: string | null) =>
    request<ExperimentAnalysis>(
      'GET',
      `/v1/experiments/${encodeURIComponent(name)}/results${metric === null ? '' : `?metric=${encodeURIComponent(metric)}`}`,
    ),
  featureViews: () => request<FeatureViewList>('GET', '/v1/features/views'),
  /** One feature view with a sample of online values: of `keys` (comma-separated) when given. */
  featureView: (name: string, keys?: string) =>
    request<FeatureViewDetail>(
      'GET',
      `/v1/features/views/${encodeURIComponent(name)}${keys === undefined || keys === '' ? '' : `?keys=${encodeURIComponent(keys)}`}`,
    ),
  /** Who the dashboard is signed in as (a 401 when it is not). */
  me: () => request<Me>('GET', '/v1/me'),
  /** Ends the developer session. */
  logout: () => request<unknown>('POST', '/auth/logout'),
  /** URL of a run's Server-Sent Events stream (`run` events carry a {@link RunDetail}). */
  eventsUrl: (id: string) => `/v1/runs/${encodeURIComponent(id)}/events`,
};
