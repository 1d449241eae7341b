import { postJson, redact, type DeliveryOptions } from './http-delivery.js';
import type { Notifier, WorkflowEvent } from './notifier.js';

/** POSTs each event as JSON (the {@link WorkflowEvent} itself) to a URL, with retries. */
export class WebhookNotifier implements Notifier {
  readonly name: string;

  constructor(
    private readonly url: string,
    private readonly options: DeliveryOptions = {},
  ) {
    this.name = `webhook ${redact(url)}`;
  }

  notify(event: WorkflowEvent, options: { signal?: AbortSignal } = {}): Promise<void> {
    return postJson(this.url, event, this.options, options.signal);
  }
}
