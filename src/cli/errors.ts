import { KibanError, type ErrorCode } from '../core/errors.js';

/** Process exit status for each error code: 2 for bad usage, 3 for bad or missing data. */
const EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 2,
  INVALID_DATA: 3,
  NOT_FOUND: 3,
  NOT_FITTED: 1,
  CONFLICT: 1,
  NOT_READY: 1,
  UNAUTHENTICATED: 1,
  FORBIDDEN: 1,
  RATE_LIMITED: 1,
  INTERNAL: 1,
};

/** Prints an error the way every command reports failure and returns the exit status to use. */
export function reportError(error: unknown): number {
  if (error instanceof KibanError) {
    process.stderr.write(`kiban: error: ${error.message}\n`);
    return EXIT_CODES[error.code];
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`kiban: unexpected error: ${message}\n`);
  return 1;
}
