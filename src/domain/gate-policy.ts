import { localDate, periodBounds, periods, type Period } from './calendar-period.ts';

/** What an event type asks of a booker before Usher confirms (config `eventTypes.<id>.gate`). */
export interface GatePolicy {
  creditCost: number;
  /** The booker must be a known, active member whose membership covers the booking's date. */
  requireMembership: boolean;
  minNoticeMinutes?: number;
  /** How far ahead a booking may start (Skedda's "booking window"). */
  bookingWindowDays?: number;
  minDurationMinutes?: number;
  maxDurationMinutes?: number;
  maxBookingsPerMember?: Partial<Record<Period, number>>;
  /** Whether the per-member limits count this event type's bookings only, or all gated bookings. */
  limitScope: 'eventType' | 'all';
  /** E-mail addresses or domains ("club.example" or "@club.example"); empty allows everyone. */
  allow: readonly string[];
  deny: readonly string[];
}

export type UnknownMemberAction = 'decline' | 'hold';

export interface MemberFacts {
  email: string;
  active: boolean;
  /** Last day of membership (YYYY-MM-DD in the business's time zone), if it ends. */
  membershipUntil?: string;
}

export interface GateInput {
  booking: { start: Date; end: Date; email: string | undefined };
  member: MemberFacts | undefined;
  policy: GatePolicy;
  unknownMember: UnknownMemberAction;
  /** Credits the member can spend now, and credits already held for this booking (a reschedule). */
  credits: { available: number; alreadyHeld: number };
  /** The member's other live bookings in the day/week/month containing this booking's start. */
  bookingsInPeriod: Partial<Record<Period, number>>;
  now: Date;
  timeZone: string;
}

export const gateReasonCodes = [
  'member.known',
  'member.unknown',
  // No e-mail to find a member by: a phone-only booking (Cal.com's `<digits>@sms.cal.com`, CONTRACT §4.2).
  'member.no_email',
  'member.active',
  'member.inactive',
  'membership.valid',
  'membership.expired',
  'notice.ok',
  'notice.too_short',
  'window.ok',
  'window.too_far',
  'duration.ok',
  'duration.too_short',
  'duration.too_long',
  'limit.ok',
  'limit.reached',
  'email.allowed',
  'email.denied',
  'email.not_allowed',
  'credits.sufficient',
  'credits.insufficient',
  // Set by the gate's caller when gate.requireRoom finds no room (rooms are not the policy's business).
  'room.unavailable',
] as const;
export type GateReasonCode = (typeof gateReasonCodes)[number];

export type GateOutcome = 'approve' | 'decline' | 'hold';

export interface GateReason {
  code: GateReasonCode;
  ok: boolean;
  /** What a failed check means for the booking. */
  failure?: Exclude<GateOutcome, 'approve'>;
  [detail: string]: unknown;
}

export interface GateDecision {
  outcome: GateOutcome;
  /** Every check that ran, passed or failed, in order. */
  reasons: GateReason[];
  /** Credits to take now (the cost less what a reschedule already carries over). */
  creditsToHold: number;
}

/** The detail fields each reason carries: the placeholders a decline template may use. */
export const gateReasonFields: Record<GateReasonCode, readonly string[]> = {
  'member.known': [],
  'member.unknown': [],
  'member.no_email': [],
  'member.active': [],
  'member.inactive': [],
  'membership.valid': ['membershipUntil'],
  'membership.expired': ['membershipUntil', 'bookingDate'],
  'notice.ok': ['minNoticeMinutes'],
  'notice.too_short': ['minNoticeMinutes'],
  'window.ok': ['bookingWindowDays'],
  'window.too_far': ['bookingWindowDays'],
  'duration.ok': ['durationMinutes'],
  'duration.too_short': ['durationMinutes', 'minDurationMinutes'],
  'duration.too_long': ['durationMinutes', 'maxDurationMinutes'],
  'limit.ok': ['period', 'limit', 'booked'],
  'limit.reached': ['period', 'limit', 'booked'],
  'email.allowed': [],
  'email.denied': ['rule'],
  'email.not_allowed': [],
  'credits.sufficient': ['available', 'needed'],
  'credits.insufficient': ['available', 'needed'],
  'room.unavailable': [],
};

const MINUTE = 60_000;

/**
 * Cal.com gives a phone-only attendee the address `<digits>@sms.cal.com` (its
 * contructEmailFromPhoneNumber): nobody's mailbox, so no one's membership either.
 */
export function isPhoneOnlyEmail(email: string | undefined): boolean {
  return !!email && /@sms\.cal\.com$/i.test(email.trim());
}

function matchesRule(email: string, rule: string): boolean {
  const r = rule.trim().toLowerCase();
  if (r.includes('@') && !r.startsWith('@')) return email === r;
  const domain = r.replace(/^@/, '');
  const at = email.lastIndexOf('@');
  return at >= 0 && email.slice(at + 1) === domain;
}

function check(
  ok: boolean,
  pass: GateReasonCode,
  fail: GateReasonCode,
  detail: Record<string, unknown> = {},
  failure: GateReason['failure'] = 'decline',
): GateReason {
  return ok ? { code: pass, ok: true, ...detail } : { code: fail, ok: false, failure, ...detail };
}

/**
 * The gate's decision for one requested booking: a value, no I/O (STYLE §4). Every configured policy
 * is checked and reported, so the booker hears every reason at once, not one per attempt. A failed
 * check declines, except an unknown member under `unknownMember: hold`, which leaves the booking
 * pending for a person; any decline outranks a hold.
 */
export function evaluateGate(input: GateInput): GateDecision {
  const { booking, member, policy, now, timeZone } = input;
  const reasons: GateReason[] = [];
  const email = booking.email?.trim().toLowerCase();

  if (policy.requireMembership || policy.creditCost > 0) {
    reasons.push(check(member !== undefined, 'member.known', email ? 'member.unknown' : 'member.no_email', {}, input.unknownMember));
    if (member && policy.requireMembership) {
      reasons.push(check(member.active, 'member.active', 'member.inactive'));
      if (member.membershipUntil) {
        const bookingDate = localDate(booking.start, timeZone);
        reasons.push(
          check(bookingDate <= member.membershipUntil, 'membership.valid', 'membership.expired', {
            membershipUntil: member.membershipUntil,
            bookingDate,
          }),
        );
      }
    }
  }

  if (policy.deny.length > 0 || policy.allow.length > 0) {
    const denied = email ? policy.deny.find((rule) => matchesRule(email, rule)) : undefined;
    if (denied) reasons.push({ code: 'email.denied', ok: false, failure: 'decline', rule: denied });
    else if (policy.allow.length > 0 && !(email && policy.allow.some((rule) => matchesRule(email, rule)))) {
      reasons.push({ code: 'email.not_allowed', ok: false, failure: 'decline' });
    } else reasons.push({ code: 'email.allowed', ok: true });
  }

  if (policy.minNoticeMinutes !== undefined) {
    const ok = booking.start.getTime() - now.getTime() >= policy.minNoticeMinutes * MINUTE;
    reasons.push(check(ok, 'notice.ok', 'notice.too_short', { minNoticeMinutes: policy.minNoticeMinutes }));
  }
  if (policy.bookingWindowDays !== undefined) {
    const ok = booking.start.getTime() - now.getTime() <= policy.bookingWindowDays * 24 * 60 * MINUTE;
    reasons.push(check(ok, 'window.ok', 'window.too_far', { bookingWindowDays: policy.bookingWindowDays }));
  }

  const durationMinutes = Math.round((booking.end.getTime() - booking.start.getTime()) / MINUTE);
  if (policy.minDurationMinutes !== undefined && durationMinutes < policy.minDurationMinutes) {
    reasons.push({
      code: 'duration.too_short',
      ok: false,
      failure: 'decline',
      durationMinutes,
      minDurationMinutes: policy.minDurationMinutes,
    });
  } else if (policy.maxDurationMinutes !== undefined && durationMinutes > policy.maxDurationMinutes) {
    reasons.push({
      code: 'duration.too_long',
      ok: false,
      failure: 'decline',
      durationMinutes,
      maxDurationMinutes: policy.maxDurationMinutes,
    });
  } else if (policy.minDurationMinutes !== undefined || policy.maxDurationMinutes !== undefined) {
    reasons.push({ code: 'duration.ok', ok: true, durationMinutes });
  }

  for (const period of periods) {
    const limit = policy.maxBookingsPerMember?.[period];
    if (limit === undefined) continue;
    const booked = input.bookingsInPeriod[period] ?? 0;
    reasons.push(check(booked < limit, 'limit.ok', 'limit.reached', { period, limit, booked }));
  }

  let creditsToHold = 0;
  if (policy.creditCost > 0 && member) {
    const needed = Math.max(0, policy.creditCost - input.credits.alreadyHeld);
    reasons.push(
      check(input.credits.available >= needed, 'credits.sufficient', 'credits.insufficient', {
        available: input.credits.available,
        needed,
      }),
    );
    creditsToHold = needed;
  }

  const failures = reasons.filter((r) => !r.ok);
  const outcome: GateOutcome = failures.some((r) => r.failure === 'decline') ? 'decline' : failures.length > 0 ? 'hold' : 'approve';
  return { outcome, reasons, creditsToHold: outcome === 'approve' ? creditsToHold : 0 };
}

/** The windows a per-member limit counts bookings in, for the booking's start. */
export function limitWindows(policy: GatePolicy, start: Date, timeZone: string): { period: Period; from: Date; to: Date }[] {
  return periods
    .filter((p) => policy.maxBookingsPerMember?.[p] !== undefined)
    .map((period) => ({ period, ...periodBounds(start, period, timeZone) }));
}
