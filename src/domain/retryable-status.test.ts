import { describe, expect, it } from 'vitest';
import { isRetryableStatus } from './retryable-status.ts';

describe('isRetryableStatus: one rule for Cal.com and automation targets', () => {
  it('tries again after no answer, 408, 425, 429 and any 5xx; takes any other 4xx as the answer', () => {
    const retried = [undefined, 408, 425, 429, 500, 502, 503, 504, 599];
    const final = [400, 401, 403, 404, 409, 410, 413, 415, 422, 451];
    expect(retried.map(isRetryableStatus)).toEqual(retried.map(() => true));
    expect(final.map(isRetryableStatus)).toEqual(final.map(() => false));
  });
});
