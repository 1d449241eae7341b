/**
 * A typed client of kiban's serving API for services and notebooks: the data-plane routes a
 * product calls (recommendations, related items, tag suggestions, bandit decisions and feedback,
 * experiment assignments and events). It uses the platform's `fetch`; nothing else.
 */
import { KibanError, type ErrorCode } from '../core/errors.js';

/** One recommended or related item. */
export interface ScoredItem {
  id: string;
  score: number;
}

/** Which source of the service's fallback chain gave a recommended item. */
export type RecommendationSource =
  | 'personal'
  | 'related-to-recent'
  | 'category-popular'
  | 'popular';

/** One recommended item: with its source, and its reasons when asked for (`explain`). */
export interface RecommendedItem extends ScoredItem {
  source: RecommendationSource;
  /** With `explain: true`: the user's (or session's) items that contributed most, strongest first. */
  explain?: { reasons: { item: string; score: number }[] };
}

/** `GET /v1/users/{id}/recommendations`. */
export interface RecommendationsAnswer {
  user: string;
  items: RecommendedItem[];
  /** True when the user has no list of their own (the chain's later sources answered). */
  fallback: boolean;
}

/** Options of {@link KibanClient.recommendations}. */
export interface RecommendationOptions {
  k?: number;
  /** Items to skip: pages of one stable sequence. */
  offset?: number;
  /** Only items of this category. */
  category?: string;
  /** Item ids to leave out. */
  exclude?: readonly (string | number)[];
  /** Each item carries the reasons it is recommended. */
  explain?: boolean;
}

/** `POST /v1/bandits/{name}/decide`. */
export interface BanditDecision {
  decisionId: string;
  /** The chosen arms, one per slot. */
  arms: string[];
  /** The probability with which each slot's arm was chosen (given the slots before it). */
  propensities: number[];
  version: number;
  /** With a context read from a feature service: which, and how many features were read as 0. */
  featureContext?: { featureService: string; missing: number; expired: number };
}

/** One experiment the unit is in. */
export interface Assignment {
  experiment: string;
  variant: string;
  layer: string;
}

/** An experiment event (`POST /v1/events`). */
export interface ExperimentEvent {
  /** Unique per event: a retried batch is counted once. */
  eventId: string;
  type: 'exposure' | 'conversion' | 'value';
  experiment: string;
  unit: string;
  /** Exposures: the variant the unit saw. */
  variant?: string;
  /** Conversions and values: the metric. */
  metric?: string;
  /** Value events. */
  value?: number;
  /** ISO-8601 or epoch ms. @defaultValue the server's now */
  time?: string | number;
}

/** A user–item interaction (`POST /v1/interactions`). */
export interface InteractionEvent {
  user: string;
  item: string;
  /** When it happened: ISO-8601 or epoch ms. @defaultValue the server's now */
  ts?: string | number;
  /** @defaultValue 1 */
  weight?: number;
  /** Idempotency key: an event whose id is stored already is skipped. */
  id?: string;
}

/** Options of {@link KibanClient}. */
export interface KibanClientOptions {
  /** Sent with every request (a trace id…). */
  headers?: Record<string, string>;
  /** An API key (`kbn_…`, from `kiban keys create`), sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /**
   * Gives the bearer token (an OIDC access token, a service JWT) for each request, as
   * `Authorization: Bearer <token>`; called every time, so it may refresh. Not with `apiKey`.
   */
  token?: () => Promise<string> | string;
  /**
   * The service whose recommendation routes to call (`/v1/services/NAME/…`, issue 22).
   * @defaultValue the default service (`/v1/…`)
   */
  service?: string;
  /** @defaultValue the global `fetch` */
  fetch?: typeof fetch;
  /** Per-request timeout in ms; a request over it is aborted. @defaultValue 10000 */
  timeoutMs?: number;
}

const KNOWN_CODES = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'INVALID_DATA',
  'NOT_FOUND',
  'NOT_FITTED',
  'CONFLICT',
  'NOT_READY',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'INTERNAL',
]);

/**
 * An error answer of the server: `code` and `message` are the server's (`{code, message}`),
 * `status` the HTTP status. An answer that is not kiban's error JSON is code `INTERNAL`.
 */
export class KibanHttpError extends KibanError {
  readonly status: number;

  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * The client. Ids are strings at the boundary (numbers are sent as their decimal form) and are
 * URL-encoded in paths; every method rejects with {@link KibanHttpError} on an error answer.
 *
 * @example
 * const kiban = new KibanClient('http://127.0.0.1:8080', { apiKey: process.env.KIBAN_API_KEY });
 * const { items } = await kiban.recommendations('user-42', { k: 10 });
 * const decision = await kiban.decide('home', { context: [1, 0, 0.5], candidates: ['a', 'b', 'c'], slots: 2 });
 * await kiban.feedback('home', decision.decisionId, [1, 0]);
 */
export class KibanClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  /** `/v1`, or `/v1/services/NAME` for {@link KibanClientOptions.service}. */
  readonly #prefix: string;
  readonly #token: (() => Promise<string> | string) | undefined;

  constructor(baseUrl: string, options: KibanClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new KibanError('INVALID_ARGUMENT', `baseUrl: not a URL: ${JSON.stringify(baseUrl)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new KibanError(
        'INVALID_ARGUMENT',
        `baseUrl: must be http: or https:, got ${url.protocol}`,
      );
    this.#base = url.href.replace(/\/+$/, '');
    this.#headers = { ...options.headers };
    if (options.apiKey !== undefined && options.token !== undefined)
      throw new KibanError('INVALID_ARGUMENT', 'apiKey: give apiKey or token, not both');
    if (options.apiKey !== undefined) {
      if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '')
        throw new KibanError('INVALID_ARGUMENT', 'apiKey: must be a non-empty string');
      this.#headers.authorization = `Bearer ${options.apiKey.trim()}`;
    }
    this.#token = options.token;
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    if (options.service !== undefined && !/^[a-z][a-z0-9-]{0,31}$/.test(options.service))
      throw new KibanError(
        'INVALID_ARGUMENT',
        `service: must be lower-case letters, digits and -, starting with a letter, got ${JSON.stringify(options.service)}`,
      );
    this.#prefix =
      options.service === undefined || options.service === 'default'
        ? '/v1'
        : `/v1/services/${options.service}`;
  }

  /**
   * A user's recommendations through the service's fallback chain (the user's own list, then
   * related-to-recent, category-popular and popular items), each item with its source.
   */
  recommendations(
    userId: string | number,
    options: RecommendationOptions = {},
  ): Promise<RecommendationsAnswer> {
    return this.#request(
      'GET',
      `${this.#prefix}/users/${segment(userId)}/recommendations${query({
        k: options.k,
        offset: options.offset,
        category: options.category,
        exclude: options.exclude?.join(','),
        explain: options.explain,
      })}`,
    );
  }

  /** Items related to an item; an item the model does not know is a NOT_FOUND error. */
  related(
    itemId: string | number,
    options: { k?: number } = {},
  ): Promise<{ item: string; items: ScoredItem[] }> {
    return this.#request(
      'GET',
      `${this.#prefix}/items/${segment(itemId)}/related${query({ k: options.k })}`,
    );
  }

  /** Tags for a text from the published tagger, best first. */
  suggestTags(
    text: string,
    options: { k?: number; threshold?: number } = {},
  ): Promise<{ tag: string; score: number }[]> {
    return this.#request('POST', '/v1/tags/suggest', { text, ...options });
  }

  /**
   * A bandit's decision over `candidates` for `slots` positions (`context` for contextual
   * policies: numbers, or `{featureService?, entity}` read from the server's online feature store).
   */
  decide(
    bandit: string,
    input: {
      candidates: string[];
      context?: number[] | { featureService?: string; entity: Record<string, string | number> };
      slots?: number;
    },
  ): Promise<BanditDecision> {
    return this.#request('POST', `/v1/bandits/${segment(bandit)}/decide`, input);
  }

  /** The rewards of a decision's slots; applied once (a repeat is a CONFLICT error). */
  feedback(bandit: string, decisionId: string, rewards: number[]): Promise<unknown> {
    return this.#request('POST', `/v1/bandits/${segment(bandit)}/feedback`, {
      decisionId,
      rewards,
    });
  }

  /** Every running experiment the unit is in, with its variant; `attributes` are for targeting. */
  async assignments(
    unit: string,
    attributes: Record<string, string | number | boolean> = {},
  ): Promise<Assignment[]> {
    const answer = await this.#request<{ assignments: Assignment[] }>(
      'GET',
      `/v1/experiments/assignments${query({ ...attributes, unit })}`,
    );
    return answer.assignments;
  }

  /** Stores a batch of experiment events, all or none; events stored before are skipped. */
  events(events: ExperimentEvent[]): Promise<{ accepted: number; duplicates: number }> {
    return this.#request('POST', '/v1/events', { events });
  }

  /**
   * Stores a batch of user–item interactions (all or none; an event whose `id` is stored already
   * is skipped). With a published graph model they change the user's recommendations at once.
   */
  interactions(events: InteractionEvent[]): Promise<{ accepted: number; duplicates: number }> {
    return this.#request('POST', '/v1/interactions', { events });
  }

  async #request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#headers };
    if (this.#token !== undefined) {
      const token = await this.#token();
      if (typeof token !== 'string' || token === '')
        throw new KibanError('INVALID_ARGUMENT', 'token: the provider gave no token');
      headers.authorization = `Bearer ${token}`;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#fetch(`${this.#base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) {
      if (parsed === undefined)
        throw new KibanHttpError(
          response.status,
          'INTERNAL',
          `${method} ${path}: the answer is not JSON`,
        );
      return parsed as T;
    }
    const error = parsed as { code?: unknown; message?: unknown } | undefined;
    const code =
      typeof error?.code === 'string' && KNOWN_CODES.has(error.code as ErrorCode)
        ? (error.code as ErrorCode)
        : 'INTERNAL';
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
    throw new KibanHttpError(response.status, code, `${method} ${path}: ${message}`);
  }
}

function segment(id: string | number): string {
  return encodeURIComponent(String(id));
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
