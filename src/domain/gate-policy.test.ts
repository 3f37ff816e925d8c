import { describe, expect, it } from 'vitest';
import { declineMessage, declineTemplateFaults } from './decline-message.ts';
import { evaluateGate, isPhoneOnlyEmail, type GateInput, type GatePolicy } from './gate-policy.ts';

const now = new Date('2026-12-01T08:00:00Z');
const policy = (p: Partial<GatePolicy> = {}): GatePolicy => ({
  creditCost: 0,
  requireMembership: true,
  limitScope: 'eventType',
  allow: [],
  deny: [],
  ...p,
});
const input = (over: Partial<GateInput> = {}): GateInput => ({
  booking: { start: new Date('2026-12-03T10:00:00Z'), end: new Date('2026-12-03T11:00:00Z'), email: 'grace@example.com' },
  member: { email: 'grace@example.com', active: true },
  policy: policy(),
  unknownMember: 'decline',
  credits: { available: 0, alreadyHeld: 0 },
  bookingsInPeriod: {},
  now,
  timeZone: 'Europe/London',
  ...over,
});
const codes = (i: GateInput) => {
  const d = evaluateGate(i);
  return { outcome: d.outcome, failed: d.reasons.filter((r) => !r.ok).map((r) => r.code) };
};

describe('the gate policies, each alone', () => {
  it('credits: approves and holds the cost when the member has enough, declines with the numbers when not', () => {
    const enough = evaluateGate(input({ policy: policy({ creditCost: 2 }), credits: { available: 2, alreadyHeld: 0 } }));
    expect(enough).toMatchObject({ outcome: 'approve', creditsToHold: 2 });
    const short = evaluateGate(input({ policy: policy({ creditCost: 2 }), credits: { available: 1, alreadyHeld: 0 } }));
    expect(short.outcome).toBe('decline');
    expect(short.creditsToHold).toBe(0);
    expect(short.reasons).toContainEqual({ code: 'credits.insufficient', ok: false, failure: 'decline', available: 1, needed: 2 });
  });

  it('credits: a reschedule that carries its credits needs no more', () => {
    const d = evaluateGate(input({ policy: policy({ creditCost: 1 }), credits: { available: 0, alreadyHeld: 1 } }));
    expect(d).toMatchObject({ outcome: 'approve', creditsToHold: 0 });
  });

  it('unknown member: declines by default, holds for a person when configured', () => {
    expect(codes(input({ member: undefined, policy: policy({ creditCost: 1 }) }))).toEqual({
      outcome: 'decline',
      failed: ['member.unknown'],
    });
    expect(codes(input({ member: undefined, unknownMember: 'hold', policy: policy({ creditCost: 1 }) }))).toEqual({
      outcome: 'hold',
      failed: ['member.unknown'],
    });
  });

  it('a booking with no e-mail (Cal.com’s phone-only bookings) says so rather than that the address is unknown', () => {
    expect(isPhoneOnlyEmail('447700900123@sms.cal.com')).toBe(true);
    expect(isPhoneOnlyEmail('pat@example.com')).toBe(false);
    const noEmail = input({ member: undefined, policy: policy({ creditCost: 1 }) });
    expect(codes({ ...noEmail, booking: { ...noEmail.booking, email: undefined } })).toEqual({
      outcome: 'decline',
      failed: ['member.no_email'],
    });
  });

  it('membership: an inactive member, or one whose membership ends before the booking day, is declined', () => {
    expect(codes(input({ member: { email: 'grace@example.com', active: false } })).failed).toEqual(['member.inactive']);
    // ends the day before the booking (booking is on 3 December, London)
    expect(codes(input({ member: { email: 'grace@example.com', active: true, membershipUntil: '2026-12-02' } })).failed).toEqual([
      'membership.expired',
    ]);
    expect(codes(input({ member: { email: 'grace@example.com', active: true, membershipUntil: '2026-12-03' } })).outcome).toBe('approve');
  });

  it('membership day is the business time zone day, not UTC', () => {
    // 23:30 UTC on 3 December is already 4 December in Auckland
    const late = { start: new Date('2026-12-03T23:30:00Z'), end: new Date('2026-12-04T00:00:00Z'), email: 'grace@example.com' };
    const member = { email: 'grace@example.com', active: true, membershipUntil: '2026-12-03' };
    expect(codes(input({ booking: late, member, timeZone: 'Europe/London' })).outcome).toBe('approve');
    expect(codes(input({ booking: late, member, timeZone: 'Pacific/Auckland' })).failed).toEqual(['membership.expired']);
  });

  it('without requireMembership and no cost, anyone may book', () => {
    expect(codes(input({ member: undefined, policy: policy({ requireMembership: false }) }))).toEqual({ outcome: 'approve', failed: [] });
  });

  it('booking window and notice', () => {
    expect(codes(input({ policy: policy({ bookingWindowDays: 1 }) })).failed).toEqual(['window.too_far']);
    expect(codes(input({ policy: policy({ bookingWindowDays: 3 }) })).outcome).toBe('approve');
    expect(codes(input({ policy: policy({ minNoticeMinutes: 3 * 24 * 60 }) })).failed).toEqual(['notice.too_short']);
    expect(codes(input({ policy: policy({ minNoticeMinutes: 60 }) })).outcome).toBe('approve');
  });

  it('duration bounds', () => {
    expect(codes(input({ policy: policy({ minDurationMinutes: 90 }) })).failed).toEqual(['duration.too_short']);
    expect(codes(input({ policy: policy({ maxDurationMinutes: 45 }) })).failed).toEqual(['duration.too_long']);
    expect(codes(input({ policy: policy({ minDurationMinutes: 30, maxDurationMinutes: 60 }) })).outcome).toBe('approve');
  });

  it('per-member limits per day, week and month', () => {
    const p = policy({ maxBookingsPerMember: { day: 1, week: 2, month: 5 } });
    expect(codes(input({ policy: p, bookingsInPeriod: { day: 0, week: 1, month: 4 } })).outcome).toBe('approve');
    const d = evaluateGate(input({ policy: p, bookingsInPeriod: { day: 1, week: 2, month: 4 } }));
    expect(d.outcome).toBe('decline');
    expect(d.reasons.filter((r) => !r.ok)).toEqual([
      { code: 'limit.reached', ok: false, failure: 'decline', period: 'day', limit: 1, booked: 1 },
      { code: 'limit.reached', ok: false, failure: 'decline', period: 'week', limit: 2, booked: 2 },
    ]);
  });

  it('allow and deny lists of addresses and domains; deny wins', () => {
    const allowDomain = policy({ allow: ['club.example'] });
    expect(codes(input({ policy: allowDomain })).failed).toEqual(['email.not_allowed']);
    expect(codes(input({ policy: allowDomain, booking: { ...input().booking, email: 'Ann@Club.Example' } })).outcome).toBe('approve');
    expect(codes(input({ policy: policy({ allow: ['grace@example.com'] }) })).outcome).toBe('approve');
    // "@example.com" is the domain, not a suffix of "notexample.com"
    expect(codes(input({ policy: policy({ deny: ['@example.com'] }) })).failed).toEqual(['email.denied']);
    expect(
      codes(input({ policy: policy({ deny: ['@example.com'] }), booking: { ...input().booking, email: 'x@notexample.com' } })).outcome,
    ).toBe('approve');
    expect(codes(input({ policy: policy({ allow: ['example.com'], deny: ['grace@example.com'] }) })).failed).toEqual(['email.denied']);
  });
});

describe('the gate policies combined', () => {
  it('reports every failed check, so the booker hears all reasons at once', () => {
    const d = evaluateGate(
      input({
        policy: policy({ creditCost: 1, bookingWindowDays: 1, maxDurationMinutes: 30, maxBookingsPerMember: { week: 1 } }),
        credits: { available: 0, alreadyHeld: 0 },
        bookingsInPeriod: { week: 1 },
      }),
    );
    expect(d.outcome).toBe('decline');
    expect(d.reasons.filter((r) => !r.ok).map((r) => r.code)).toEqual([
      'window.too_far',
      'duration.too_long',
      'limit.reached',
      'credits.insufficient',
    ]);
    expect(d.reasons.filter((r) => r.ok).map((r) => r.code)).toEqual(['member.known', 'member.active']);
    expect(declineMessage(d.reasons, {})).toBe(
      'Bookings open 1 days ahead; Bookings may last at most 30 minutes; Limit reached: 1 bookings per week; Not enough credits: 0 of 1 needed',
    );
  });

  it('a decline outranks a hold', () => {
    expect(codes(input({ member: undefined, unknownMember: 'hold', policy: policy({ creditCost: 1, bookingWindowDays: 1 }) }))).toEqual({
      outcome: 'decline',
      failed: ['member.unknown', 'window.too_far'],
    });
  });
});

describe('decline messages', () => {
  it('uses the configured template with the reason fields', () => {
    const d = evaluateGate(input({ policy: policy({ creditCost: 3 }), credits: { available: 1, alreadyHeld: 0 } }));
    expect(declineMessage(d.reasons, { 'credits.insufficient': 'You have {{available}} credit(s); this session costs {{needed}}.' })).toBe(
      'You have 1 credit(s); this session costs 3.',
    );
  });

  it('lists template faults: unknown codes, placeholders the reason does not carry, and the old single-brace form', () => {
    expect(declineTemplateFaults({ 'credits.insufficient': 'have {{available}}, need {{ needed }}' })).toEqual([]);
    expect(
      declineTemplateFaults({
        'credits.nope': 'x',
        'limit.reached': '{{limit}} per {{periodd}}',
        'notice.too_short': 'at least {minNoticeMinutes} min',
      }),
    ).toEqual([
      expect.stringContaining('gate.messages.credits.nope: unknown reason code'),
      'gate.messages.limit.reached: {{periodd}} is not a field here (fields: period, limit, booked)',
      'gate.messages.notice.too_short: {minNoticeMinutes} is not a placeholder — did you mean {{minNoticeMinutes}}?',
    ]);
  });
});
