import type { ErrorCode } from '../core/errors.js';

/** HTTP status for each error code: the one place this mapping lives. */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_ARGUMENT: 400,
  INVALID_DATA: 400,
  NOT_FOUND: 404,
  NOT_FITTED: 503,
  CONFLICT: 409,
  NOT_READY: 503,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  INTERNAL: 500,
});

/** The JSON body of every error response. */
export interface ErrorBody {
  code: string;
  message: string;
}
