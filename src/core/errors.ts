/**
 * Errors raised by kiban. Every error carries a stable `code` that callers (the CLI, the HTTP
 * layer) map to exit codes and statuses in one place, and a message that names the field or
 * the location and the reason.
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_DATA'
  | 'NOT_FOUND'
  | 'NOT_FITTED'
  | 'CONFLICT'
  | 'NOT_READY'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'INTERNAL';

/** Base class of every error kiban throws on purpose. */
export class KibanError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A caller passed an option or argument that is out of range or of the wrong kind. */
export class InvalidArgumentError extends KibanError {
  /** The option or argument at fault, e.g. `k` or `--model`. */
  readonly field: string;
  /** What is wrong with it, without the field (so a caller can name its own option). */
  readonly reason: string;

  constructor(field: string, reason: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', `${field}: ${reason}`, options);
    this.field = field;
    this.reason = reason;
  }
}

/** Where in an input a problem was found; every member is optional because formats differ. */
export interface DataLocation {
  file?: string;
  /** 1-based line number in a text file (the header is line 1). */
  line?: number;
  /** 1-based row number in a columnar file, where there are no lines. */
  row?: number;
  column?: string;
}

/** Input data is missing, malformed or unusable; the message says where and why. */
export class DataError extends KibanError {
  readonly location: DataLocation;

  constructor(location: DataLocation, reason: string, options?: { cause?: unknown }) {
    super('INVALID_DATA', `${formatLocation(location)}${reason}`, options);
    this.location = location;
  }
}

/** A file, model or other named thing does not exist. */
export class NotFoundError extends KibanError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', `${what} not found`, options);
  }
}

/**
 * The request is well-formed but clashes with the current state, e.g. retrying a run that has
 * not failed, or starting a run while another process drives one for the same date.
 */
export class ConflictError extends KibanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, options);
  }
}

/**
 * The request is well-formed but what answers it is not there yet: nothing is published
 * (recommendations, a model, a tagger) or the dashboard is not built. The message says what is
 * missing and, where it helps, how to provide it; the same request succeeds once it is there.
 */
export class NotReadyError extends KibanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_READY', message, options);
  }
}

/**
 * A caller sent no credentials where they are required, or credentials that are invalid,
 * expired or revoked (HTTP 401). The message says which, and never repeats the secret.
 */
export class UnauthenticatedError extends KibanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAUTHENTICATED', message, options);
  }
}

/**
 * An authenticated caller lacks the scope an operation needs (HTTP 403). The message names the
 * scopes the operation accepts.
 */
export class ForbiddenError extends KibanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FORBIDDEN', message, options);
  }
}

/**
 * A caller sent more requests than its rate limit allows in the current window (HTTP 429, with a
 * `Retry-After` header). The message says the limit and when to retry.
 */
export class RateLimitedError extends KibanError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RATE_LIMITED', message, options);
  }
}

/** A model was asked for results before `fit` or `load`. */
export class NotFittedError extends KibanError {
  constructor(model: string) {
    super('NOT_FITTED', `${model}: the model has not been fitted or loaded`);
  }
}

function formatLocation(loc: DataLocation): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(loc.file);
  if (loc.line !== undefined) parts.push(`line ${loc.line}`);
  if (loc.row !== undefined) parts.push(`row ${loc.row}`);
  if (loc.column !== undefined) parts.push(`column "${loc.column}"`);
  return parts.length > 0 ? `${parts.join(', ')}: ` : '';
}
