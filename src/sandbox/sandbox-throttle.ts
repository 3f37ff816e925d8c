/**
 * Cal.com's throttler as CONTRACT §4.1 describes it: a fixed window per key; past the limit the key
 * is blocked for the block duration. Headers are named per limit (`-Default`), Reset in seconds.
 */
export class SandboxThrottle {
  readonly #windows = new Map<string, { startedAt: number; count: number; blockedUntil: number }>();
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #blockMs: number;

  constructor(limit: number, windowMs = 60_000, blockMs = 60_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#blockMs = blockMs;
  }

  take(key: string, now: number): { allowed: boolean; headers: Record<string, string> } {
    let w = this.#windows.get(key);
    if (!w || (now >= w.startedAt + this.#windowMs && now >= w.blockedUntil)) {
      w = { startedAt: now, count: 0, blockedUntil: 0 };
      this.#windows.set(key, w);
    }
    let allowed = now >= w.blockedUntil;
    if (allowed) {
      w.count++;
      if (w.count > this.#limit) {
        w.blockedUntil = now + this.#blockMs;
        allowed = false;
      }
    }
    const resetMs = allowed ? w.startedAt + this.#windowMs - now : w.blockedUntil - now;
    return {
      allowed,
      headers: {
        'X-RateLimit-Limit-Default': String(this.#limit),
        'X-RateLimit-Remaining-Default': String(Math.max(0, this.#limit - w.count)),
        'X-RateLimit-Reset-Default': String(Math.max(1, Math.ceil(resetMs / 1000))),
      },
    };
  }
}
