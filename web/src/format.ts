/** `850 ms`, `3.2 s`, `2m 05s`, `1h 02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Milliseconds between two ISO times, `end` defaulting to `now` (for what is still running). */
export function elapsed(start: string | null, end: string | null, now: number): number | null {
  if (start === null) return null;
  return (end === null ? now : Date.parse(end)) - Date.parse(start);
}

/** `just now`, `12 s ago`, `5 min ago`, `in 3 h`, or the local date and time beyond a day. */
export function formatRelative(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return '—';
  const diff = Date.parse(iso) - now;
  const abs = Math.abs(diff);
  const say = (n: number, unit: string) => (diff < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (abs < 5_000) return 'just now';
  if (abs < 60_000) return say(Math.round(abs / 1000), 's');
  if (abs < 3_600_000) return say(Math.round(abs / 60_000), 'min');
  if (abs < 86_400_000) return say(Math.round(abs / 3_600_000), 'h');
  return formatDateTime(iso);
}

/** Local date and time to the minute, e.g. `2026-11-25 14:05`. */
export function formatDateTime(iso: string | null): string {
  if (iso === null) return '—';
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A logical date as the date alone when it is midnight UTC (the usual case), else in full. */
export function formatLogicalDate(iso: string): string {
  return iso.endsWith('T00:00:00.000Z')
    ? iso.slice(0, 10)
    : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
