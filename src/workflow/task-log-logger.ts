import type { LogFn, Logger } from '../core/log.js';

type Level = 'error' | 'warn' | 'info' | 'debug';

/** What a warning or an error line of a task's log starts with; info lines are the bare message. */
const PREFIX: Record<Level, string> = { error: 'error: ', warn: 'warning: ', info: '', debug: '' };

/**
 * A {@link Logger} over a task's log (`TaskContext.log`), for library code that logs through a
 * logger but runs as a workflow task: each error, warn and info entry becomes one line of the
 * attempt's log (`kiban workflow logs`, the dashboard), its message as written (warnings and
 * errors prefixed `warning: ` / `error: `; an entry without a message is its fields as JSON).
 * Debug entries stay out of the task's log. With `also`, every entry goes to that logger too,
 * with its fields and the bindings of {@link Logger.child}, which the task's lines omit.
 *
 * @example
 * const logger = taskLogLogger((line) => ctx.log(line), childLogger(processLogger(), 'pipeline'));
 * logger.info({ rows: 42 }, 'aggregate: 42 rows');
 */
export function taskLogLogger(write: (line: string) => void, also?: Logger): Logger {
  const method =
    (level: Level): LogFn =>
    (first: string | Record<string, unknown>, message?: string): void => {
      if (typeof first === 'string') also?.[level](first);
      else also?.[level](first, message);
      if (level === 'debug') return;
      const text = typeof first === 'string' ? first : (message ?? JSON.stringify(first));
      write(`${PREFIX[level]}${text}`);
    };
  return {
    error: method('error'),
    warn: method('warn'),
    info: method('info'),
    debug: method('debug'),
    child: (bindings) => taskLogLogger(write, also?.child(bindings)),
  };
}
