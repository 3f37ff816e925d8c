import { CalClient } from './cal/api-client.ts';
import { CalRateLimiter } from './cal/rate-limiter.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Metrics } from './http/metrics.ts';
import type { Db } from './store/db.ts';
import { blockRateBucket, RateBudgetQueue } from './store/rate-budget.ts';

/**
 * Cal.com's client as every process makes it: one rate budget in the store shared by every Usher
 * process and CLI command (CONTRACT §5), so no path can blow Cal.com's limits on its own.
 */
export function createRateLimiter(config: Config, db: Db, clock: Clock): CalRateLimiter {
  const budget = new RateBudgetQueue(db);
  return new CalRateLimiter(
    { acquire: (buckets, now) => budget.acquire(buckets, now), block: (key, until) => blockRateBucket(db, key, until) },
    config.cal.rateLimit,
    config.cal.apiKey,
    () => clock.now(),
  );
}

export function createCalClient(
  config: Config,
  db: Db,
  clock: Clock,
  metrics?: Metrics,
  limiter = createRateLimiter(config, db, clock),
): CalClient {
  return new CalClient({
    apiUrl: config.cal.apiUrl,
    apiKey: config.cal.apiKey,
    bookingsApiVersion: config.cal.bookingsApiVersion,
    organizationId: config.cal.organizationId,
    timeoutMs: config.cal.requestTimeoutSeconds * 1000,
    gate: limiter,
    onCall: (call) => {
      metrics?.calCalls.inc({ endpoint: call.endpoint, status: String(call.status ?? 'none') });
      metrics?.calCallSeconds.observe({ endpoint: call.endpoint }, call.durationMs / 1000);
    },
  });
}
