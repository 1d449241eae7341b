import { pino, type DestinationStream } from 'pino';
import { InvalidArgumentError } from './errors.js';

/**
 * One logging call: a message, or structured fields (`runId`, `task`, `bandit`, `err`…) and a
 * message. Fields go into the JSON line as they are; an `err` field is serialised with its stack.
 */
export interface LogFn {
  (message: string): void;
  (fields: Record<string, unknown>, message?: string): void;
}

/**
 * The logger kiban's libraries take: the part of pino they use. A pino logger is one; so is any
 * object with these methods (a test's recorder, an adapter to another library).
 */
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  /** A logger that adds `bindings` to every line it writes. */
  child(bindings: Record<string, unknown>): Logger;
}

/** The levels a logger can be set to, quietest last; `silent` writes nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where log lines go: a file descriptor, a file path, or a stream with `write(line)`. */
export type LogDestination = number | string | { write(line: string): unknown };

/** How {@link createLogger} builds a logger. */
export interface CreateLoggerOptions {
  /** The least severe level written. @defaultValue `KIBAN_LOG_LEVEL`, else `info` */
  level?: LogLevel;
  /** Where lines go. @defaultValue 2 (stderr, written synchronously so that a line before an exit is not lost) */
  destination?: LogDestination;
  /**
   * One human line per entry (`LEVEL [component] message key=value…`) instead of JSON, for a
   * terminal. @defaultValue false
   */
  pretty?: boolean;
  /** Fields on every line. @defaultValue none */
  base?: Record<string, unknown>;
}

/** The name of the environment variable that sets the default level. */
export const LOG_LEVEL_ENV = 'KIBAN_LOG_LEVEL';

/**
 * A pino logger writing JSON lines (`{"level":30,"time":…,"component":…,"msg":…}`), to stderr by
 * default, at the level of `KIBAN_LOG_LEVEL` (else `info`). The result is a full pino logger, so
 * that fastify can take it as its `loggerInstance`.
 * @throws InvalidArgumentError naming `KIBAN_LOG_LEVEL` (or `level`) when it is not one of {@link LOG_LEVELS}
 *
 * @example
 * const logger = createLogger();
 * const engine = childLogger(logger, 'workflow');
 * engine.info({ runId }, 'run started');
 * const quiet = createLogger({ level: 'silent' }); // for tests
 */
export function createLogger(options: CreateLoggerOptions = {}): pino.Logger {
  const level = options.level ?? envLevel();
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new InvalidArgumentError(
      'level',
      `must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`,
    );
  const target = destinationOf(options.destination ?? 2);
  const stream = options.pretty === true ? prettyStream(target) : target;
  return pino(
    { level, base: options.base ?? null, serializers: { err: pino.stdSerializers.err } },
    stream,
  );
}

/** A child of `parent` whose lines carry `component` (`serve`, `workflow`, `bandits`…). */
export function childLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}

let processWide: Logger | undefined;

/**
 * The process's logger: the one {@link setProcessLogger} installed, else a {@link createLogger}
 * with the defaults, made on first use (no import-time side effects). Libraries fall back to it
 * when they are given no logger.
 */
export function processLogger(): Logger {
  processWide ??= createLogger();
  return processWide;
}

/** Makes `logger` the one {@link processLogger} returns (a role does this once, at start). */
export function setProcessLogger(logger: Logger): void {
  processWide = logger;
}

function envLevel(): string {
  const value = process.env[LOG_LEVEL_ENV];
  if (value === undefined || value === '') return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(value))
    throw new InvalidArgumentError(
      LOG_LEVEL_ENV,
      `must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`,
    );
  return value;
}

function destinationOf(destination: LogDestination): DestinationStream {
  if (typeof destination === 'number') return pino.destination({ fd: destination, sync: true });
  if (typeof destination === 'string')
    return pino.destination({ dest: destination, sync: true, mkdir: true });
  return destination as DestinationStream;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Rewrites each JSON line as `LEVEL [component] message key=value…` (the stack of `err` on the lines below). */
function prettyStream(target: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      const entry = JSON.parse(line) as Record<string, unknown> & {
        level: number;
        msg?: string;
        component?: string;
        err?: { stack?: string; message?: string };
      };
      const { level, msg, component, err, time: _time, ...fields } = entry;
      const head = `${(LEVEL_NAMES[level] ?? String(level)).padEnd(5)} ${component === undefined ? '' : `[${component}] `}${msg ?? ''}`;
      const rest = Object.entries(fields)
        .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join('');
      const stack = err === undefined ? '' : `\n${err.stack ?? err.message ?? ''}`;
      target.write(`${head}${rest}${stack}\n`);
    },
  };
}
