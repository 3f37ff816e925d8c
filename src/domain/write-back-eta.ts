/**
 * When will each queued write-back reach Cal.com? The worker sends jobs in claim order, each when
 * every rate bucket it draws from has room (a sliding log: at most `limit` calls in any window,
 * store/rate-budget.ts). Replaying that rule over the queue gives each job's expected send time;
 * the board shows it so that "not yet in Cal.com" comes with "expected by 10:42", not a shrug.
 * An estimate: failures and retries, and jobs enqueued later with an earlier priority, move it.
 */

export interface EtaBucket {
  key: string;
  limit: number;
  windowMs: number;
  /** Calls already made that still count (from the shared log). */
  recentCalls: readonly number[];
  /** Cal.com said stop until then (a 429). */
  blockedUntil?: number;
}

export interface QueuedCall {
  id: number;
  /** Not before this (a retry's backoff). */
  runAt: number;
  /** The buckets this call draws from (every call: the key's; a location update: also its own). */
  buckets: readonly string[];
}

export function expectedSendTimes(queue: readonly QueuedCall[], buckets: readonly EtaBucket[], now: number): Map<number, number> {
  const logs = new Map(buckets.map((b) => [b.key, { ...b, calls: [...b.recentCalls].sort((x, y) => x - y) }]));
  const eta = new Map<number, number>();
  for (const call of queue) {
    const mine = call.buckets.map((k) => logs.get(k)).filter((b) => b !== undefined);
    let t = Math.max(now, call.runAt, ...mine.map((b) => b.blockedUntil ?? 0));
    // Each pass either fits every bucket or moves t to when the fullest one frees a slot; t only grows.
    for (let moved = true; moved; ) {
      moved = false;
      for (const b of mine) {
        const inWindow = b.calls.filter((c) => c > t - b.windowMs && c <= t);
        if (inWindow.length >= b.limit) {
          t = inWindow[inWindow.length - b.limit]! + b.windowMs + 1;
          moved = true;
        }
      }
    }
    for (const b of mine) b.calls.push(t);
    eta.set(call.id, t);
  }
  return eta;
}
