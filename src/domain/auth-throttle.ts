/**
 * Failed authentications per client address (the board's sign-in, the admin API's bearer token):
 * ten in five minutes, and that address waits out the rest of the five. Keyed by the client's own
 * address, which behind a reverse proxy is the one the proxy reports (`USHER_TRUST_PROXY`, fastify's
 * `trustProxy`): one guesser is stopped, everyone else signs in as before — no global lock-out.
 * In memory per process: a restart forgets, which costs a guesser nothing it could not get by
 * waiting, and needs no store on the failure path. Hand-written because it is ten lines.
 */
export class AuthThrottle {
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(options: { limit?: number; windowSeconds?: number } = {}) {
    this.#limit = options.limit ?? 10;
    this.#windowMs = (options.windowSeconds ?? 300) * 1000;
  }

  /** Seconds this address must still wait, or 0 when it may try. */
  waitSeconds(address: string, now: number): number {
    const f = this.#failures.get(address);
    if (!f || now - f.since > this.#windowMs || f.count < this.#limit) return 0;
    return Math.max(1, Math.ceil((f.since + this.#windowMs - now) / 1000));
  }

  failed(address: string, now: number): void {
    const f = this.#failures.get(address);
    if (!f || now - f.since > this.#windowMs) this.#failures.set(address, { count: 1, since: now });
    else f.count += 1;
    // Bounded: a flood of addresses forgets the oldest rather than growing without end.
    if (this.#failures.size > 10_000) this.#failures.delete(this.#failures.keys().next().value!);
  }
}
