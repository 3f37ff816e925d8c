import { describe, expect, it } from 'vitest';
import { needsPerson } from './write-backs.ts';

const now = Date.parse('2026-12-03T09:00:00Z');
const at = (minutes: number) => new Date(now + minutes * 60_000).toISOString();
const writeBack = (over: Partial<Parameters<typeof needsPerson>[0]> = {}) => ({
  job: 'job_1',
  kind: 'cal.location',
  uid: 'b1',
  label: 'Consultation · P. D. — Room 1A to Cal.com',
  state: 'queued' as const,
  expectedAt: at(2),
  attempts: 0,
  lastError: null,
  ...over,
});

describe('a write-back to Cal.com', () => {
  it('is only on its way while it waits its turn under the rate limit, or is being sent', () => {
    expect(needsPerson(writeBack(), at(30), now)).toBe(false);
    expect(needsPerson(writeBack({ state: 'sending', expectedAt: at(-5) }), at(30), now)).toBe(false);
    expect(needsPerson(writeBack({ expectedAt: at(-0.5) }), undefined, now)).toBe(false); // due, a moment late
  });

  it('needs a person once an attempt failed, once it is overdue, or when it would arrive after the booking starts', () => {
    expect(needsPerson(writeBack({ attempts: 1, lastError: 'Cal.com answered 500' }), at(30), now)).toBe(true);
    expect(needsPerson(writeBack({ expectedAt: at(-2) }), at(30), now)).toBe(true);
    expect(needsPerson(writeBack({ expectedAt: at(12) }), at(10), now)).toBe(true);
  });
});
