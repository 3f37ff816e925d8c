import { describe, expect, it } from 'vitest';
import { expectedSendTimes } from './write-back-eta.ts';

const minute = 60_000;

describe('expected write-back times under the rate budget', () => {
  it('sends five location updates now and the next five a window later', () => {
    const queue = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, runAt: 0, buckets: ['key', 'loc'] }));
    const eta = expectedSendTimes(
      queue,
      [
        { key: 'key', limit: 120, windowMs: minute, recentCalls: [] },
        { key: 'loc', limit: 5, windowMs: minute, recentCalls: [] },
      ],
      1000,
    );
    expect([...eta.values()].slice(0, 5)).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(eta.get(6)).toBe(1000 + minute + 1);
    expect(eta.get(11)).toBe(1000 + 2 * (minute + 1));
  });

  it('counts calls already made in the window and waits out a block', () => {
    const loc = { key: 'loc', limit: 2, windowMs: minute, recentCalls: [-50_000, -10_000] };
    const eta = expectedSendTimes(
      [
        { id: 1, runAt: 0, buckets: ['loc'] },
        { id: 2, runAt: 0, buckets: ['loc'] },
      ],
      [loc],
      0,
    );
    expect(eta.get(1)).toBe(-50_000 + minute + 1);
    expect(eta.get(2)).toBe(-10_000 + minute + 1);
    const blocked = expectedSendTimes(
      [{ id: 1, runAt: 0, buckets: ['key'] }],
      [{ key: 'key', limit: 120, windowMs: minute, recentCalls: [], blockedUntil: 30_000 }],
      0,
    );
    expect(blocked.get(1)).toBe(30_000);
  });

  it('keeps a retry behind its backoff and lets later jobs use the slot meanwhile', () => {
    const buckets = [{ key: 'loc', limit: 1, windowMs: minute, recentCalls: [] }];
    const eta = expectedSendTimes(
      [
        { id: 1, runAt: 5 * minute, buckets: ['loc'] },
        { id: 2, runAt: 0, buckets: ['loc'] },
      ],
      buckets,
      0,
    );
    expect(eta.get(1)).toBe(5 * minute);
    expect(eta.get(2)).toBe(0);
  });
});
