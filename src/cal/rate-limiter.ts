import { createHash } from 'node:crypto';
import type { RateLimitInfo } from './api-error.ts';
import type { Endpoint, RateGate } from './api-client.ts';

export interface BucketLimit {
  key: string;
  limit: number;
  windowSeconds: number;
}

/** The shared budget's storage (store/rate-budget.ts); injected so cal/ never reaches into store/. */
export interface RateBudgetStore {
  acquire(buckets: readonly BucketLimit[], now: Date): Promise<{ ok: true } | { ok: false; retryAt: Date }>;
  block(key: string, until: Date): Promise<void>;
}

export interface RateLimits {
  requestsPerWindow: number;
  locationRequestsPerWindow: number;
  windowSeconds: number;
}

/**
 * CONTRACT §4.1: 120 requests per minute per API key, then a 60 s block; `PATCH …/location` is
 * throttled to 5 per minute on its own. Buckets are named by a hash of the key, never the key.
 */
export class CalRateLimiter implements RateGate {
  readonly #store: RateBudgetStore;
  readonly #limits: RateLimits;
  readonly #now: () => Date;
  readonly #keyBucket: string;
  readonly #locationBucket: string;

  constructor(store: RateBudgetStore, limits: RateLimits, apiKey: string | undefined, now: () => Date) {
    this.#store = store;
    this.#limits = limits;
    this.#now = now;
    const id = createHash('sha256')
      .update(apiKey ?? '')
      .digest('hex')
      .slice(0, 12);
    this.#keyBucket = `cal:key:${id}`;
    this.#locationBucket = `cal:location:${id}`;
  }

  bucketsFor(endpoint: Endpoint): BucketLimit[] {
    const { requestsPerWindow, locationRequestsPerWindow, windowSeconds } = this.#limits;
    const buckets = [{ key: this.#keyBucket, limit: requestsPerWindow, windowSeconds }];
    if (endpoint === 'bookings.location') buckets.push({ key: this.#locationBucket, limit: locationRequestsPerWindow, windowSeconds });
    return buckets;
  }

  admit(endpoint: Endpoint) {
    return this.#store.acquire(this.bucketsFor(endpoint), this.#now());
  }

  async observe(endpoint: Endpoint, status: number | undefined, rateLimit: RateLimitInfo): Promise<void> {
    const now = this.#now().getTime();
    const bucket = endpoint === 'bookings.location' && status === 429 ? this.#locationBucket : this.#keyBucket;
    if (status === 429) {
      // Blocked: Cal.com keeps refusing for at least the block duration; Reset says how long (seconds).
      const seconds = Math.max(rateLimit.resetSeconds ?? this.#limits.windowSeconds, 1);
      await this.#store.block(bucket, new Date(now + seconds * 1000));
    } else if (rateLimit.remaining === 0 && rateLimit.resetSeconds !== undefined) {
      await this.#store.block(this.#keyBucket, new Date(now + Math.max(rateLimit.resetSeconds, 1) * 1000));
    }
  }
}
