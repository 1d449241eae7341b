import { KibanError } from '../../core/errors.js';

/** How an HTTP notifier delivers: per-attempt timeout and retries with exponential backoff. */
export interface DeliveryOptions {
  /** @defaultValue 5000 */
  timeoutMs?: number;
  /** Attempts after the first. @defaultValue 3 */
  retries?: number;
  /** Wait before the first retry, doubled for each further one. @defaultValue 500 */
  backoffMs?: number;
}

export const DEFAULT_DELIVERY: Readonly<Required<DeliveryOptions>> = Object.freeze({
  timeoutMs: 5000,
  retries: 3,
  backoffMs: 500,
});

/**
 * POSTs `body` as JSON to `url` until a 2xx answer, retrying network errors, timeouts, 429 and
 * 5xx answers with exponential backoff; other 4xx answers are final (retrying cannot fix them).
 */
export async function postJson(
  url: string,
  body: unknown,
  options: DeliveryOptions = {},
  signal?: AbortSignal,
): Promise<void> {
  const { timeoutMs, retries, backoffMs } = { ...DEFAULT_DELIVERY, ...options };
  let last = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1), signal);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal:
          signal === undefined
            ? AbortSignal.timeout(timeoutMs)
            : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      if (res.ok) return;
      last = `HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`.trim();
      if (res.status < 500 && res.status !== 429) break;
    } catch (error) {
      if (signal?.aborted) throw error;
      last =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (error as Error).message;
    }
  }
  throw new KibanError('INTERNAL', `delivery to ${redact(url)} failed: ${last}`);
}

/** The URL without its path and query, which for webhooks hold the secret. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return 'an invalid URL';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
