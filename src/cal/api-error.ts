import { isRetryableStatus } from '../domain/retryable-status.ts';
import { UsherError } from '../errors.ts';

export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  resetSeconds?: number;
}

export interface CalErrorDetail {
  status: number | undefined;
  /** Cal.com's `error.code` (e.g. "BadRequestException"); not a stable enum (CONTRACT §4.1). */
  calCode?: string | undefined;
  calMessage?: string | undefined;
  /** Cal.com's X-Request-Id (CONTRACT §4.1): what its support asks for. */
  requestId?: string | undefined;
  body: unknown;
  endpoint: string;
  rateLimit: RateLimitInfo;
}

/**
 * CONTRACT §4.1: two error shapes. The envelope `{status:"error", error:{code,message}}`, and a bare
 * `{statusCode, message}` from shared code that NestJS passes through. Read `error.message ?? message`.
 */
export function readCalError(body: unknown): { calCode?: string; calMessage?: string } {
  if (!body || typeof body !== 'object') return typeof body === 'string' && body ? { calMessage: body.slice(0, 500) } : {};
  const b = body as { error?: { code?: unknown; message?: unknown; details?: { errors?: unknown } }; message?: unknown };
  const code = typeof b.error?.code === 'string' ? b.error.code : undefined;
  const said = typeof b.error?.message === 'string' ? b.error.message : typeof b.message === 'string' ? b.message : undefined;
  // A validation failure names each field in details.errors (class-validator): said when the message is not.
  const fields = Array.isArray(b.error?.details?.errors)
    ? b.error.details.errors.flatMap((e: unknown) => {
        const constraints = (e as { constraints?: unknown } | null)?.constraints;
        return constraints && typeof constraints === 'object' ? Object.values(constraints).filter((v) => typeof v === 'string') : [];
      })
    : [];
  const missing = fields.filter((f) => !said?.includes(f));
  const message = [said, ...missing].filter(Boolean).join('; ') || undefined;
  return { ...(code ? { calCode: code } : {}), ...(message ? { calMessage: message } : {}) };
}

export function calApiError(detail: CalErrorDetail, cause?: unknown): UsherError {
  const retryable = isRetryableStatus(detail.status);
  const what = detail.status === undefined ? 'no answer' : `HTTP ${detail.status}`;
  const text = `${detail.calMessage ? `: ${detail.calMessage}` : ''}${detail.requestId ? ` (Cal.com request ${detail.requestId})` : ''}`;
  return new UsherError(retryable ? 'CAL_API_RETRYABLE' : 'CAL_API_ERROR', `Cal.com ${detail.endpoint} ${what}${text}`, {
    detail,
    cause,
  });
}

/** CONTRACT §4.1: v2 names its headers per limit (`-Default`); Reset is seconds from now, not an epoch. */
export function readRateLimitHeaders(headers: Record<string, string | string[] | undefined>, name = 'Default'): RateLimitInfo {
  const read = (base: string) => {
    const raw = headers[`${base}-${name}`.toLowerCase()];
    const value = Array.isArray(raw) ? raw[0] : raw;
    const n = value === undefined ? Number.NaN : Number(value);
    return Number.isFinite(n) ? n : undefined;
  };
  const limit = read('x-ratelimit-limit');
  const remaining = read('x-ratelimit-remaining');
  const resetSeconds = read('x-ratelimit-reset');
  return {
    ...(limit !== undefined ? { limit } : {}),
    ...(remaining !== undefined ? { remaining } : {}),
    ...(resetSeconds !== undefined ? { resetSeconds } : {}),
  };
}
