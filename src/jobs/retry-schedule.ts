export interface BackoffPolicy {
  backoffBaseSeconds: number;
  backoffMaxSeconds: number;
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so retries of many
 * jobs that failed together spread out but none retries at once. `attempt` counts from 1.
 */
export function retryDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.backoffMaxSeconds, policy.backoffBaseSeconds * 2 ** Math.max(0, attempt - 1)) * 1000;
  return Math.round(step / 2 + random() * (step / 2));
}
