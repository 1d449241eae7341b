/** How a timed-out attempt's error reads: `timed out after 1.5s`. */
export function timedOutMessage(ms: number): string {
  return `timed out after ${ms >= 1000 ? `${+(ms / 1000).toFixed(3)}s` : `${ms}ms`}`;
}

/** How a cancelled attempt's error reads: `cancelled`, or `cancelled: <reason>`. */
export function cancelledMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : '';
  return why.length > 0 && why !== 'This operation was aborted' ? `cancelled: ${why}` : 'cancelled';
}
