/**
 * Whether an HTTP answer is worth another try, for every outbound call Usher makes (Cal.com and
 * automation targets alike): no answer at all (a timeout, a dropped connection), 408 Request
 * Timeout, 425 Too Early (RFC 8470: the same request later succeeds), 429 Too Many Requests, and any
 * 5xx. Any other 4xx is an answer: repeating it changes nothing.
 */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 425 || status === 429 || status >= 500;
}
