/**
 * The one error catalogue (STYLE §5). Codes are stable; messages are safe to show an operator.
 * `httpStatus` is what an HTTP edge answers; `retryable` is what a job edge does with it.
 */
export const errorCodes = {
  CONFIG_INVALID: { httpStatus: 500, retryable: false },
  DATA_DIR_LOCKED: { httpStatus: 409, retryable: false },
  /** A command that only reads found no data where it looked (it never creates a data dir). */
  NO_STORE: { httpStatus: 404, retryable: false },
  NOT_FOUND: { httpStatus: 404, retryable: false },
  BAD_REQUEST: { httpStatus: 400, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, retryable: false },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, retryable: false },
  METHOD_NOT_ALLOWED: { httpStatus: 405, retryable: false },
  CONFLICT: { httpStatus: 409, retryable: false },
  UNAUTHORIZED: { httpStatus: 401, retryable: false },
  PAYLOAD_INVALID: { httpStatus: 400, retryable: false },
  CAL_API_ERROR: { httpStatus: 502, retryable: false },
  CAL_API_RETRYABLE: { httpStatus: 503, retryable: true },
  CAL_NOT_CONFIGURED: { httpStatus: 503, retryable: true },
  RATE_LIMITED: { httpStatus: 503, retryable: true },
  STORE_UNAVAILABLE: { httpStatus: 503, retryable: true },
  ADMIN_UNREACHABLE: { httpStatus: 503, retryable: true },
  /** An automation's target refused for good (a 4xx other than 408/429), or the automation is gone. */
  TARGET_REFUSED: { httpStatus: 502, retryable: false },
  /** An automation's target failed in a way worth retrying (5xx, 408, 425, 429, timeout, network). */
  TARGET_RETRYABLE: { httpStatus: 503, retryable: true },
  /** Too many failed authentications from one address (the admin API, the board's sign-in). */
  THROTTLED: { httpStatus: 429, retryable: true },
  /** Signed in, but this sign-in may only view (the board's display role). */
  FORBIDDEN: { httpStatus: 403, retryable: false },
  /** A board action without its CSRF token or from another origin. */
  CSRF: { httpStatus: 403, retryable: false },
  /** A webhook whose signature is missing or wrong (CONTRACT §2). */
  SIGNATURE_INVALID: { httpStatus: 401, retryable: false },
  INVALID_JSON: { httpStatus: 400, retryable: false },
  /** Anything unexpected: the answer says nothing more; the log has the stack. */
  INTERNAL: { httpStatus: 500, retryable: true },
  /** Custom checkout (bookings/checkout.ts): the key's first request is still out. */
  IN_PROGRESS: { httpStatus: 409, retryable: true },
  IDEMPOTENCY_KEY_REUSED: { httpStatus: 422, retryable: false },
  /** Cal.com did not answer a create: the booking may exist; a retry with the same key checks first. */
  CAL_UNCERTAIN: { httpStatus: 502, retryable: true },
  /** Cal.com's refusals of a create, told apart (CONTRACT §4.2 "Create errors"). */
  SLOT_TAKEN: { httpStatus: 409, retryable: false },
  OUT_OF_BOUNDS: { httpStatus: 422, retryable: false },
  IN_THE_PAST: { httpStatus: 422, retryable: false },
  MISSING_FIELD: { httpStatus: 400, retryable: false },
  BOOKING_LIMIT: { httpStatus: 422, retryable: false },
  CAL_REFUSED: { httpStatus: 422, retryable: false },
} as const satisfies Record<string, { httpStatus: number; retryable: boolean }>;

export type ErrorCode = keyof typeof errorCodes;

export class UsherError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; detail?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UsherError';
    this.code = code;
    this.detail = options.detail;
  }

  get httpStatus(): number {
    return errorCodes[this.code].httpStatus;
  }

  get retryable(): boolean {
    return errorCodes[this.code].retryable;
  }
}

export function isUsherError(error: unknown, code?: ErrorCode): error is UsherError {
  return error instanceof UsherError && (code === undefined || error.code === code);
}

/** A short text for logs and the dead-letter column: never a stack, never a secret. */
export function describeError(error: unknown): string {
  if (error instanceof UsherError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Usher's one error shape, for every answer that refuses (the HTTP edges and the checkout's stored answers). */
export function errorBody(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

export function httpStatusOf(code: ErrorCode): number {
  return errorCodes[code].httpStatus;
}
