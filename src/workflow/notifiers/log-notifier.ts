import { errorExcerpt, summarize, type Notifier, type WorkflowEvent } from './notifier.js';

/** Writes each event as one line to a stream (stderr by default): the notifier that cannot fail. */
export class LogNotifier implements Notifier {
  readonly name = 'log';

  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(line)) {}

  async notify(event: WorkflowEvent): Promise<void> {
    const error = event.error === undefined ? '' : `: ${errorExcerpt(event.error, 200).replace(/\s+/g, ' ')}`;
    this.write(`${summarize(event)}${error}${event.runUrl === undefined ? '' : ` — ${event.runUrl}`}\n`);
  }
}
