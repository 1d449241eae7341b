import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.js';
import { LogNotifier } from './log-notifier.js';
import { notifyAll, type WorkflowEvent } from './notifier.js';
import { SlackNotifier } from './slack-notifier.js';
import { WebhookNotifier } from './webhook-notifier.js';

/** A local HTTP receiver that records requests and answers from a script of statuses. */
let server: Server;
let base = '';
let received: { path: string; body: any }[] = [];
let script: (number | 'hang')[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(body) });
      const next = script.shift() ?? 200;
      if (next === 'hang') return; // never answer
      res.writeHead(next).end(next === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received = [];
  script = [];
});

const failed: WorkflowEvent = {
  type: 'run-failed',
  workflow: 'recommend',
  runId: 'recommend-20261125-ab12',
  logicalDate: '2026-11-25',
  task: 'train',
  attempt: 3,
  error: `${'x'.repeat(2000)}\nError: factors must be positive`,
  runUrl: 'http://127.0.0.1:8080/runs/recommend-20261125-ab12',
};
const fast = { retries: 3, backoffMs: 10, timeoutMs: 300 };

describe('WebhookNotifier', () => {
  it('posts the event as JSON, retrying 5xx answers until one succeeds', async () => {
    script = [500, 503, 200];
    await new WebhookNotifier(`${base}/hooks/secret-token`, fast).notify(failed);
    expect(received).toHaveLength(3);
    expect(received[2]).toEqual({ path: '/hooks/secret-token', body: failed });
  });

  it('gives up at once on a 4xx, and after its retries on timeouts, without leaking the secret path', async () => {
    script = [400];
    const notifier = new WebhookNotifier(`${base}/hooks/secret-token`, fast);
    await expect(notifier.notify(failed)).rejects.toThrow(/HTTP 400/);
    expect(received).toHaveLength(1);
    script = ['hang', 'hang'];
    const error = await new WebhookNotifier(`${base}/hooks/secret-token`, { ...fast, retries: 1 })
      .notify(failed)
      .catch((e: Error) => e);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
    expect((error as Error).message).not.toContain('secret-token');
    expect(notifier.name).not.toContain('secret-token');
  });
});

describe('SlackNotifier', () => {
  it('posts a readable message: workflow, task and attempt, the end of the error, a link to the run', async () => {
    await new SlackNotifier(`${base}/services/T/B/secret`, fast).notify(failed);
    const { text, blocks } = received[0].body;
    expect(text).toBe(
      '❌ recommend run recommend-20261125-ab12 (2026-11-25) failed at task train (attempt 3)',
    );
    const all = JSON.stringify(blocks);
    expect(all).toContain(
      '<http://127.0.0.1:8080/runs/recommend-20261125-ab12|recommend-20261125-ab12>',
    );
    expect(all).toContain('Error: factors must be positive');
    // Only the last 500 characters of a long error are sent.
    expect(all).not.toContain('x'.repeat(600));
  });
});

describe('notifyAll', () => {
  it('reports each delivery and never fails, even with a notifier that is down', async () => {
    const lines: string[] = [];
    const down = new WebhookNotifier('http://127.0.0.1:9/unreachable', { ...fast, retries: 1 });
    const deliveries = await notifyAll([down, new LogNotifier((l) => lines.push(l))], {
      ...failed,
      error: 'boom',
    });
    expect(deliveries.map((d) => [d.notifier, d.ok])).toEqual([
      ['webhook http://127.0.0.1:9/…', false],
      ['log', true],
    ]);
    expect(deliveries[0].error).toMatch(/delivery to http:\/\/127\.0\.0\.1:9\/… failed/);
    expect(lines).toEqual([
      '❌ recommend run recommend-20261125-ab12 (2026-11-25) failed at task train (attempt 3): boom — http://127.0.0.1:8080/runs/recommend-20261125-ab12\n',
    ]);
  });

  it('words success and overdue runs too', async () => {
    const lines: string[] = [];
    const log = new LogNotifier((l) => lines.push(l));
    await log.notify({
      type: 'run-succeeded',
      workflow: 'w',
      runId: 'r',
      logicalDate: 'd',
      durationMs: 125_000,
    });
    await log.notify({
      type: 'run-overdue',
      workflow: 'w',
      runId: 'r',
      logicalDate: 'd',
      durationMs: 7_200_000,
      expectedDurationMs: 1_800_000,
    });
    expect(lines).toEqual([
      '✅ w run r (d) succeeded in 2 min 5 s\n',
      '⏰ w run r (d) has run 2 h 0 min, longer than the expected 30 min 0 s\n',
    ]);
  });

  it('logs each event with its fields when given a logger: error for a failure, info for a success', async () => {
    const lines: string[] = [];
    const log = new LogNotifier(
      createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } }),
    );
    await log.notify({
      type: 'run-failed',
      workflow: 'w',
      runId: 'r',
      logicalDate: 'd',
      task: 't',
      attempt: 2,
      error: 'boom\nat x',
    });
    await log.notify({
      type: 'run-succeeded',
      workflow: 'w',
      runId: 'r',
      logicalDate: 'd',
      durationMs: 125_000,
    });
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({
      level: 50,
      event: 'run-failed',
      workflow: 'w',
      runId: 'r',
      task: 't',
      attempt: 2,
      error: 'boom\nat x',
    });
    expect(entries[0].msg).toMatch(
      /^❌ w run r \(d\) failed at task t \(attempt 2\).*: boom at x$/,
    );
    expect(entries[1]).toMatchObject({
      level: 30,
      event: 'run-succeeded',
      durationMs: 125_000,
      msg: '✅ w run r (d) succeeded in 2 min 5 s',
    });
  });
});
