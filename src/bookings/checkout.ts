import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { CalClient } from '../cal/api-client.ts';
import { type ErrorCode, errorBody, httpStatusOf, isUsherError, UsherError } from '../errors.ts';
import {
  claimBookingRequest,
  finishBookingRequest,
  forgetBookingRequests,
  getBookingRequest,
  releaseBookingRequest,
  takeOverBookingRequest,
} from '../store/booking-requests.ts';
import type { Db } from '../store/db.ts';

/**
 * The attendee languages Cal.com accepts for a booking (openapi-v2.json,
 * CreateBookingAttendee.language): anything else is refused by Cal.com after the slot is asked
 * for, so it is refused here first, as a field error (test/openapi checks the list against the spec).
 */
export const CAL_LANGUAGES = [
  'ar',
  'ca',
  'de',
  'es',
  'eu',
  'he',
  'id',
  'ja',
  'lv',
  'pl',
  'ro',
  'sr',
  'th',
  'vi',
  'az',
  'cs',
  'el',
  'es-419',
  'fi',
  'hr',
  'it',
  'km',
  'nl',
  'pt',
  'ru',
  'sv',
  'tr',
  'zh-CN',
  'bg',
  'da',
  'en',
  'et',
  'fr',
  'hu',
  'iw',
  'ko',
  'no',
  'pt-BR',
  'sk',
  'ta',
  'uk',
  'zh-TW',
  'bn',
] as const;

/** CONTRACT §4.2 "Create body": metadata has at most 50 keys of ≤ 40 characters, string values ≤ 500. */
export const checkoutSchema = z
  .object({
    eventTypeId: z.number().int().positive(),
    start: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO time'),
    lengthInMinutes: z
      .number()
      .int()
      .positive()
      .max(24 * 60)
      .optional(),
    attendee: z
      .object({
        name: z.string().trim().min(1).max(200),
        email: z.email().optional(),
        timeZone: z
          .string()
          .min(1)
          .refine((tz) => {
            try {
              new Intl.DateTimeFormat('en', { timeZone: tz });
              return true;
            } catch {
              return false;
            }
          }, 'an IANA time zone'),
        phoneNumber: z.string().max(40).optional(),
        language: z
          .string()
          .superRefine((v, ctx) => {
            if ((CAL_LANGUAGES as readonly string[]).includes(v)) return;
            const base = v.split(/[-_]/)[0]!.toLowerCase();
            const near = CAL_LANGUAGES.find((l) => l === base) ?? CAL_LANGUAGES.find((l) => l.startsWith(`${base}-`));
            ctx.addIssue({
              code: 'custom',
              message: `"${v}" is not a language Cal.com takes${near ? ` — did you mean "${near}"?` : ` (one of ${CAL_LANGUAGES.join(', ')})`}`,
            });
          })
          .optional(),
      })
      .strict(),
    guests: z.array(z.email()).max(30).optional(),
    metadata: z
      .record(
        z.string().min(1).max(40, 'metadata keys are at most 40 characters'),
        z.string().max(500, 'metadata values are at most 500 characters'),
      )
      .refine((m) => Object.keys(m).length <= 50, 'at most 50 metadata keys')
      .optional(),
    bookingFieldsResponses: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type CheckoutRequest = z.infer<typeof checkoutSchema>;

export interface CheckoutAnswer {
  status: number;
  body: unknown;
  /** The answer of an earlier request with the same key, repeated. */
  replayed: boolean;
}

const IN_PROGRESS: CheckoutAnswer = {
  status: httpStatusOf('IN_PROGRESS'),
  body: errorBody('IN_PROGRESS', 'a request with this Idempotency-Key is still being processed; retry in a minute'),
  replayed: false,
};

const KEY_TTL_MS = 7 * 24 * 3_600_000;

/** A call still out after this long is treated as lost (Usher stopped mid-call, or the answer never came). */
const IN_FLIGHT_MS = 60_000;

function hashOf(r: CheckoutRequest): string {
  const canonical = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
        )
      : Array.isArray(v)
        ? v.map(canonical)
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(r)))
    .digest('hex');
}

/** Cal.com's 400s for a create, told apart (CONTRACT §4.2 "Create errors"). */
export function refusalOf(message: string): { status: number; code: ErrorCode } {
  const code: ErrorCode = /out_of_bounds|out of bounds|minimum notice|booking window/i.test(message)
    ? 'OUT_OF_BOUNDS'
    : /in the past/i.test(message)
      ? 'IN_THE_PAST'
      : /required_field|is required|missing/i.test(message)
        ? 'MISSING_FIELD'
        : /limit/i.test(message)
          ? 'BOOKING_LIMIT'
          : /already has booking|not available|no[ _]available[ _]users|taken|unavailable|conflict/i.test(message)
            ? 'SLOT_TAKEN'
            : 'CAL_REFUSED';
  return { status: httpStatusOf(code), code };
}

async function finish(db: Db, key: string, status: number, body: unknown, now: Date): Promise<CheckoutAnswer> {
  await finishBookingRequest(db, key, status, body, now);
  return { status, body, replayed: false };
}

/**
 * A custom checkout: one Cal.com booking per Idempotency-Key. A retry with the same key and body
 * gets the first answer again; the same key with another body is refused. When an earlier call's
 * fate is unknown (a timeout, a crash), Cal.com is asked whether the booking exists before booking
 * again, so a retried checkout never books twice.
 */
export async function checkout(db: Db, cal: CalClient, key: string, r: CheckoutRequest, now: () => Date): Promise<CheckoutAnswer> {
  const hash = hashOf(r);
  // Keys live a week (a checkout is retried within minutes); answers hold personal data, so they go.
  await forgetBookingRequests(db, new Date(now().getTime() - KEY_TTL_MS));
  let recovering = false;
  if (!(await claimBookingRequest(db, key, hash, now()))) {
    const row = (await getBookingRequest(db, key))!;
    if (row.requestHash !== hash)
      return {
        status: httpStatusOf('IDEMPOTENCY_KEY_REUSED'),
        body: errorBody('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different booking request'),
        replayed: false,
      };
    if (row.state === 'done') return { status: Number(row.status), body: row.response, replayed: true };
    if (now().getTime() - row.updatedAt.getTime() < IN_FLIGHT_MS) return IN_PROGRESS;
    if (!(await takeOverBookingRequest(db, key, row.updatedAt, now()))) return IN_PROGRESS;
    recovering = true;
  }
  const start = new Date(r.start);
  if (recovering) {
    // The booking the lost call may have made: this type, this start, this attendee (by e-mail when
    // given, else by name; CONTRACT §4.2 list filters), and still live.
    const { bookings } = await cal.listBookings({
      ...(r.attendee.email ? { attendeeEmail: r.attendee.email } : {}),
      eventTypeId: r.eventTypeId,
      afterStart: new Date(start.getTime() - 1000),
      beforeEnd: new Date(start.getTime() + 24 * 3_600_000),
      take: 250,
    });
    const sameAttendee = (b: (typeof bookings)[number]) =>
      b.attendees.some((a) => (r.attendee.email ? a.email?.toLowerCase() === r.attendee.email.toLowerCase() : a.name === r.attendee.name));
    const earlier = bookings.find(
      (b) => new Date(b.start).getTime() === start.getTime() && b.status !== 'cancelled' && b.status !== 'rejected' && sameAttendee(b),
    );
    if (earlier) return finish(db, key, 201, { data: earlier, recovered: true }, now());
  }
  try {
    const booking = await cal.createBooking({
      eventTypeId: r.eventTypeId,
      start,
      attendee: r.attendee,
      ...(r.metadata ? { metadata: r.metadata } : {}),
      ...(r.lengthInMinutes ? { lengthInMinutes: r.lengthInMinutes } : {}),
      ...(r.bookingFieldsResponses ? { bookingFieldsResponses: r.bookingFieldsResponses } : {}),
      ...(r.guests ? { guests: r.guests } : {}),
    });
    return finish(db, key, 201, { data: booking }, now());
  } catch (error) {
    if (isUsherError(error, 'RATE_LIMITED') || isUsherError(error, 'CAL_NOT_CONFIGURED')) {
      // Nothing reached Cal.com: forget the key so the retry starts clean.
      await releaseBookingRequest(db, key);
      const retryAt = (error.detail as { retryAt?: Date } | undefined)?.retryAt;
      return {
        status: httpStatusOf(error.code),
        body: errorBody(error.code, error.message, retryAt ? { retryAt: retryAt.toISOString() } : {}),
        replayed: false,
      };
    }
    if (isUsherError(error, 'CAL_API_ERROR')) {
      const detail = (error.detail ?? {}) as { status?: number; calMessage?: string };
      const refusal = refusalOf(detail.calMessage ?? error.message);
      return finish(db, key, refusal.status, errorBody(refusal.code, error.message, { calStatus: detail.status ?? null }), now());
    }
    // A 5xx, a timeout, a dropped connection: Cal.com may or may not have booked. The key stays in
    // progress; a retry after a minute asks Cal.com first.
    const message = error instanceof UsherError ? error.message : 'Cal.com did not answer';
    return {
      status: httpStatusOf('CAL_UNCERTAIN'),
      body: errorBody(
        'CAL_UNCERTAIN',
        `${message}; the booking may or may not exist. Retry with the same Idempotency-Key after a minute: Usher checks Cal.com before booking again`,
      ),
      replayed: false,
    };
  }
}
