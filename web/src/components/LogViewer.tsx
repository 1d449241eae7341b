import { useEffect, useRef, useState } from 'react';
import { api } from '../api.js';
import type { LogLine } from '../types.js';

/**
 * A task's log, followed while `live` (the task may still write): new lines are fetched after
 * the last seen `seq` every second, and the view sticks to the bottom unless scrolled up.
 * Whenever `revision` (the task's state and attempt) changes, new lines are fetched too: a
 * short retry can go from failed to succeeded between two updates without ever looking live.
 */
export function LogViewer({
  runId,
  task,
  attempts,
  live,
  revision,
}: {
  runId: string;
  task: string;
  attempts: number;
  live: boolean;
  revision: string;
}) {
  const [attempt, setAttempt] = useState<number | 'all'>('all');
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);
  const lastSeq = useRef(0);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const [generation, setGeneration] = useState(0);

  // A different task or attempt filter starts over.
  useEffect(() => {
    lastSeq.current = 0;
    setLines([]);
    setError(null);
    setGeneration((g) => g + 1);
  }, [runId, task, attempt]);

  useEffect(() => {
    if (generation === 0) return;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const page = await api.logs(runId, task, {
          afterSeq: lastSeq.current,
          ...(attempt === 'all' ? {} : { attempt }),
        });
        if (cancelled) return;
        lastSeq.current = page.lastSeq;
        if (page.lines.length > 0) setLines((old) => [...old, ...page.lines]);
        setError(null);
        if (page.more) return void (timer = setTimeout(poll, 0));
      } catch (e) {
        if (!cancelled) setError((e as Error).message);
      }
      if (!cancelled && live) timer = setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
    // Only a new generation (set after a reset), `live` or `revision` restarts polling, so a
    // reset can never race an old poll into duplicate lines.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [generation, live, revision]);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return (
    <section className="card log-card" data-testid="log-viewer">
      <header className="card-head">
        <h3>
          Log · <span className="mono">{task}</span>
          {live && <span className="live-dot" title="following" data-testid="log-live" />}
        </h3>
        <label className="muted">
          attempt{' '}
          <select
            value={String(attempt)}
            onChange={(e) => setAttempt(e.target.value === 'all' ? 'all' : Number(e.target.value))}
            data-testid="log-attempt"
          >
            <option value="all">all</option>
            {Array.from({ length: attempts }, (_, i) => i + 1).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </header>
      {error && <p className="error">{error}</p>}
      <pre
        className="log"
        ref={box}
        data-testid="log-lines"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.length === 0 ? (
          <span className="muted">{live ? 'waiting for output…' : 'no output'}</span>
        ) : (
          lines.map((l) => (
            <div key={l.seq} className={`log-line log-${l.stream}`}>
              <span className="log-meta">
                #{l.attempt} {l.at.slice(11, 19)}
              </span>
              {l.line}
            </div>
          ))
        )}
      </pre>
    </section>
  );
}
