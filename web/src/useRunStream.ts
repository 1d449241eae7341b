import { useEffect, useState } from 'react';
import { api } from './api.js';
import type { RunDetail } from './types.js';

/**
 * A run with its tasks and attempts, kept current through the run's Server-Sent Events stream
 * (the server polls its store and pushes changes, and ends the stream once the run is final).
 * If the stream cannot be opened the run is polled every 2 s instead. Bump `generation` to
 * subscribe again, e.g. after a retry made a finished run run again.
 */
export function useRunStream(
  id: string,
  generation: number,
): { detail: RunDetail | null; error: string | null } {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const source = new EventSource(api.eventsUrl(id));
    source.addEventListener('run', (e) => {
      setDetail(JSON.parse((e as MessageEvent<string>).data) as RunDetail);
      setError(null);
    });
    // The final state has arrived; without closing, EventSource would reconnect forever.
    source.addEventListener('end', () => source.close());
    source.addEventListener('gone', () => {
      source.close();
      setError(`run ${id} no longer exists`);
    });
    const poll = async () => {
      try {
        const d = await api.run(id);
        if (cancelled) return;
        setDetail(d);
        setError(null);
        if (d.run.status === 'running') timer = setTimeout(poll, 2000);
      } catch (e) {
        if (!cancelled) setError((e as Error).message);
      }
    };
    source.onerror = () => {
      // CONNECTING means the browser is already reconnecting by itself; CLOSED means it gave up
      // (e.g. a 404), so fall back to plain requests, which also surface the error message.
      if (source.readyState === EventSource.CLOSED && !cancelled) void poll();
    };
    return () => {
      cancelled = true;
      clearTimeout(timer);
      source.close();
    };
  }, [id, generation]);

  return { detail, error };
}
