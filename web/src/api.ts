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
import type { paths } from './api-types.js';

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

/** `GET /v1/services`: the services the caller may use, with their prefix and current version. */
export type ServiceList =
  paths['/v1/services']['get']['responses'][200]['content']['application/json'];
export type ServiceSummary = ServiceList['services'][number];

/** `GET {prefix}/models`: the published version, its meta (kind, metrics, …) and model record. */
export type PublishedModel =
  paths['/v1/models']['get']['responses'][200]['content']['application/json'];

/** `GET {prefix}/models/versions`: the versions the service's store holds, newest first. */
export type VersionHistory =
  paths['/v1/models/versions']['get']['responses'][200]['content']['application/json'];
/** One held version: its name, when it was published, its meta and whether it is current. */
export type HeldVersion = VersionHistory['versions'][number];

/** `POST {prefix}/models/rollback`: the version replaced and the one current now. */
export type RollbackResult =
  paths['/v1/models/rollback']['post']['responses'][200]['content']['application/json'];

/** `GET {prefix}/users/{id}/recommendations`: items with their source (and reasons, with `explain`). */
export type UserRecommendations =
  paths['/v1/users/{userId}/recommendations']['get']['responses'][200]['content']['application/json'];
/** One recommended item: id, score, the source of the fallback chain that gave it, and reasons. */
export type RecommendedItem = UserRecommendations['items'][number];

/** `GET {prefix}/users/{id}/creators`: the creators recommended to a user (fallback: popular ones). */
export type UserCreators =
  paths['/v1/users/{userId}/creators']['get']['responses'][200]['content']['application/json'];

/** The URL prefix of a service's routes, as `GET /v1/services` names it (`/v1` for default). */
export function servicePrefix(name: string): string {
  return name === 'default' ? '/v1' : `/v1/services/${encodeURIComponent(name)}`;
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
  /** The services the caller may use. */
  services: () => request<ServiceList>('GET', '/v1/services'),
  /** A service's published version (a 503 before its first publish). */
  serviceModel: (prefix: string) => request<PublishedModel>('GET', `${prefix}/models`),
  /** A service's held versions, newest first (a 404 where the server has no history route). */
  serviceVersions: (prefix: string) => request<VersionHistory>('GET', `${prefix}/models/versions`),
  /** Makes a held version of a service current again (scope admin). */
  rollbackService: (prefix: string, version: string) =>
    request<RollbackResult>('POST', `${prefix}/models/rollback`, {
      version,
    }),
  /**
   * A user's recommendations from a service, with explanations; a server that does not take
   * `explain` (a 400 naming it) is asked again without it.
   */
  userRecommendations: async (prefix: string, user: string, k: number) => {
    const path = `${prefix}/users/${encodeURIComponent(user)}/recommendations?k=${k}`;
    try {
      return await request<UserRecommendations>('GET', `${path}&explain=true`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400 && /explain/.test(e.message))
        return request<UserRecommendations>('GET', path);
      throw e;
    }
  },
  /** Creators recommended to a user (a 404 where the version has no creator lists). */
  userCreators: (prefix: string, user: string, k: number) =>
    request<UserCreators>('GET', `${prefix}/users/${encodeURIComponent(user)}/creators?k=${k}`),
  /** Who the dashboard is signed in as (a 401 when it is not). */
  me: () => request<Me>('GET', '/v1/me'),
  /** Ends the developer session. */
  logout: () => request<unknown>('POST', '/auth/logout'),
  /** URL of a run's Server-Sent Events stream (`run` events carry a {@link RunDetail}). */
  eventsUrl: (id: string) => `/v1/runs/${encodeURIComponent(id)}/events`,
};
