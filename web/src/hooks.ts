import { useEffect, useState } from 'react';

/** `Date.now()`, refreshed every `ms` while `active` (for durations of running things). */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
  return now;
}

/**
 * Loads `load()` now and again every `everyMs` (when given), keeping the last good answer;
 * `reload` fetches at once. Errors are kept beside the data so a blip does not blank the page.
 */
export function usePolled<T>(
  load: () => Promise<T>,
  deps: unknown[],
  everyMs?: number,
): { data: T | null; error: Error | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const value = await load();
        if (cancelled) return;
        setData(value);
        setError(null);
      } catch (e) {
        if (!cancelled) setError(e as Error);
      }
      if (!cancelled && everyMs !== undefined) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, everyMs]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
