import { describe, expect, it } from 'vitest';
import { allocateCredits, settleCancellation } from './credit-ledger.ts';

const now = new Date('2026-12-01T08:00:00Z');
const day = 86_400_000;

describe('credit allocation', () => {
  it('spends the credits that lapse first, then the oldest, and skips expired lots', () => {
    const lots = [
      { id: 1, remaining: 2, createdAt: new Date(now.getTime() - 10 * day) },
      { id: 2, remaining: 1, expiresAt: new Date(now.getTime() + 5 * day), createdAt: new Date(now.getTime() - day) },
      { id: 3, remaining: 4, expiresAt: new Date(now.getTime() - day), createdAt: new Date(now.getTime() - 20 * day) },
    ];
    expect(allocateCredits(lots, 2, now)).toEqual([
      { lotId: 2, amount: 1 },
      { lotId: 1, amount: 1 },
    ]);
    expect(allocateCredits(lots, 3, now)).toHaveLength(2);
    expect(allocateCredits(lots, 4, now)).toBeUndefined();
  });
});

describe('cancellation settlement', () => {
  const start = new Date('2026-12-03T10:00:00Z');
  const base = { start, windowHours: 24, byHost: false };
  it('gives held credits back, refunds captured ones in the window or when the host cancelled, keeps them when late', () => {
    expect(settleCancellation({ ...base, state: 'held', cancelledAt: new Date('2026-12-03T09:59:00Z') }).action).toBe('release');
    expect(settleCancellation({ ...base, state: 'captured', cancelledAt: new Date('2026-12-02T10:00:00Z') }).action).toBe('refund');
    expect(settleCancellation({ ...base, state: 'captured', cancelledAt: new Date('2026-12-02T10:00:01Z') }).action).toBe('forfeit');
    expect(settleCancellation({ ...base, byHost: true, state: 'captured', cancelledAt: new Date('2026-12-03T09:00:00Z') }).action).toBe(
      'refund',
    );
    expect(settleCancellation({ ...base, state: 'refunded', cancelledAt: now }).action).toBe('none');
  });
});
