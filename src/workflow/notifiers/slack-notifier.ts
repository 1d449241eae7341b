import { postJson, type DeliveryOptions } from './http-delivery.js';
import { errorExcerpt, summarize, type Notifier, type WorkflowEvent } from './notifier.js';

/**
 * Posts a readable message to a Slack incoming webhook: what happened, to which workflow, run,
 * task and attempt, the end of the error, and a link to the run page.
 */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';

  constructor(
    private readonly webhookUrl: string,
    private readonly options: DeliveryOptions = {},
  ) {}

  notify(event: WorkflowEvent, options: { signal?: AbortSignal } = {}): Promise<void> {
    return postJson(this.webhookUrl, slackMessage(event), this.options, options.signal);
  }
}

/** The Slack payload: `text` for notifications and clients without blocks, blocks for the rest. */
export function slackMessage(event: WorkflowEvent): { text: string; blocks: unknown[] } {
  const text = summarize(event);
  const fields = [
    ['Workflow', event.workflow],
    ['Logical date', event.logicalDate],
    ['Run', event.runUrl === undefined ? event.runId : `<${event.runUrl}|${event.runId}>`],
    ...(event.task === undefined
      ? []
      : [
          [
            'Task',
            `${event.task}${event.attempt === undefined ? '' : ` (attempt ${event.attempt})`}`,
          ],
        ]),
  ].map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v}` }));
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${text}*` } },
    { type: 'section', fields },
  ];
  if (event.error !== undefined)
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `\`\`\`${errorExcerpt(event.error).replaceAll('```', "'''")}\`\`\``,
      },
    });
  return { text, blocks };
}
