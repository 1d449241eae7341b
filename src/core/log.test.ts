import { afterEach, describe, expect, it } from 'vitest';
import { childLogger, createLogger, LOG_LEVEL_ENV } from './log.js';

function capture(): { lines: string[]; write(line: string): void } {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line) };
}

describe('createLogger', () => {
  const saved = process.env[LOG_LEVEL_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[LOG_LEVEL_ENV];
    else process.env[LOG_LEVEL_ENV] = saved;
  });

  it('writes one JSON line per entry, with the fields, the component of a child and the message', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', destination: out });
    childLogger(logger, 'workflow').warn({ runId: 'r1', task: 'train' }, 'task retried');
    logger.debug('not written at info');
    expect(out.lines).toHaveLength(1);
    const entry = JSON.parse(out.lines[0]) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 40,
      component: 'workflow',
      runId: 'r1',
      task: 'train',
      msg: 'task retried',
    });
    expect(typeof entry.time).toBe('number');
  });

  it('serialises an err field with its message and stack', () => {
    const out = capture();
    createLogger({ level: 'info', destination: out }).error(
      { err: new Error('boom'), ref: 'abc' },
      'internal error',
    );
    const entry = JSON.parse(out.lines[0]) as {
      err: { message: string; stack: string };
      ref: string;
    };
    expect(entry.ref).toBe('abc');
    expect(entry.err.message).toBe('boom');
    expect(entry.err.stack).toContain('Error: boom');
  });

  it('takes its level from KIBAN_LOG_LEVEL, info when unset, and refuses an unknown one', () => {
    const out = capture();
    process.env[LOG_LEVEL_ENV] = 'debug';
    createLogger({ destination: out }).debug('seen');
    process.env[LOG_LEVEL_ENV] = 'silent';
    createLogger({ destination: out }).error('unseen');
    delete process.env[LOG_LEVEL_ENV];
    const atInfo = createLogger({ destination: out });
    atInfo.debug('unseen');
    atInfo.info('seen too');
    expect(out.lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'seen',
      'seen too',
    ]);
    process.env[LOG_LEVEL_ENV] = 'loud';
    expect(() => createLogger({ destination: out })).toThrow(
      /KIBAN_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent, got "loud"/,
    );
  });

  it('writes human lines when pretty', () => {
    const out = capture();
    childLogger(createLogger({ level: 'info', destination: out, pretty: true }), 'bandits').warn(
      { bandit: 'home' },
      'feedback dropped',
    );
    expect(out.lines).toEqual(['WARN  [bandits] feedback dropped bandit=home\n']);
  });
});
