import { childLogger, processLogger, type Logger } from '../../core/log.js';
import { errorExcerpt, summarize, type Notifier, type WorkflowEvent } from './notifier.js';

/** Receives each event as one human line, newline included (a terminal, a test's array). */
export type NotifierLineWriter = (line: string) => void;

/**
 * Writes each event to a log: the notifier that cannot fail. Given a {@link Logger} (by default
 * the process logger's `notifier` child), one entry per event whose message is the event in words
 * and whose fields are the event's own (`event`, `workflow`, `runId`, `task`…): `error` level for
 * a failed run, `warn` for an overdue one, `info` otherwise. Given a function, one human line per
 * event (what the CLI prints on stderr).
 */
export class LogNotifier implements Notifier {
  readonly name = 'log';
  readonly #target: Logger | NotifierLineWriter;

  constructor(target: Logger | NotifierLineWriter = childLogger(processLogger(), 'notifier')) {
    this.#target = target;
  }

  async notify(event: WorkflowEvent): Promise<void> {
    const error =
      event.error === undefined ? '' : `: ${errorExcerpt(event.error, 200).replace(/\s+/g, ' ')}`;
    if (typeof this.#target === 'function') {
      this.#target(
        `${summarize(event)}${error}${event.runUrl === undefined ? '' : ` — ${event.runUrl}`}\n`,
      );
      return;
    }
    const { type, ...fields } = event;
    const level = type === 'run-failed' ? 'error' : type === 'run-overdue' ? 'warn' : 'info';
    this.#target[level]({ event: type, ...fields }, `${summarize(event)}${error}`);
  }
}
