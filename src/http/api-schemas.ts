import { z } from 'zod';

/**
 * What the admin API answers, as JSON (times are ISO strings). These schemas document the API
 * (/api/openapi.json); the tests run every answer through them (AppOptions.validateResponses), so
 * the document cannot drift from what the routes send. Production never refuses an answer for them.
 */

// Routes answer with Dates, which JSON writes as ISO strings: the schema (and the document) say the
// string, the handler's type may hold either.
const time = z.iso.datetime({ offset: true }) as unknown as z.ZodType<string | Date>;
const code = z.string().describe('a stable machine-readable code');
const reason = z.object({ code }).loose().describe('a reason code with its facts');

export const errorAnswer = z
  .object({
    error: z.object({
      code: code.describe('BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, CONFLICT, … (src/errors.ts)'),
      message: z.string(),
      faults: z.array(z.string()).optional().describe('every fault, when there are several (a CSV, a config)'),
    }),
  })
  .describe('Usher’s one error shape');

export const data = <T extends z.ZodType>(schema: T) => z.object({ data: schema });

export const presentedEvent = z.object({
  id: z.string().describe('evt_N'),
  trigger: z.string(),
  bookingUid: z.string().nullable().optional(),
  source: z.string(),
  state: z.enum(['pending', 'running', 'done', 'ignored', 'unprocessable', 'dead']),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  receivedAt: time,
  runAt: time,
  lastError: z.string().nullable().optional(),
  finishedAt: time.nullable().optional(),
  body: z.unknown().optional().describe('the event as received (one event only, never in lists)'),
});

export const presentedJob = z.object({
  id: z.string().describe('job_N'),
  kind: z.string(),
  bookingUid: z.string().nullable().optional(),
  coalesceKey: z.string().nullable().optional(),
  priorityAt: time.nullable().optional(),
  state: z.enum(['pending', 'running', 'done', 'dead', 'superseded']),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  runAt: time,
  lastError: z.string().nullable().optional(),
  lastResponse: z.unknown().optional(),
  payload: z.unknown(),
  createdAt: time,
  finishedAt: time.nullable().optional(),
});

export const member = z.object({
  email: z.string(),
  name: z.string().optional(),
  active: z.boolean(),
  membershipUntil: z.string().optional().describe('YYYY-MM-DD, the last day of membership'),
  createdAt: time,
  updatedAt: time,
});

export const creditBalance = z.object({
  available: z.number().int(),
  held: z.number().int(),
  captured: z.number().int(),
  forfeited: z.number().int(),
  expired: z.number().int(),
  lots: z.array(
    z.object({
      id: z.number().int(),
      granted: z.number().int(),
      remaining: z.number().int(),
      expiresAt: time.nullable(),
      reason: z.string().nullable(),
    }),
  ),
});

export const ledgerEntry = z.object({
  id: z.number().int(),
  kind: z.string(),
  amount: z.number().int(),
  lotId: z.number().int().nullable(),
  bookingUid: z.string().nullable(),
  reason: z.string().nullable(),
  actor: z.string(),
  at: time,
});

export const memberAccount = z.object({ member, balance: creditBalance, history: z.array(ledgerEntry) });
export const importResult = z.object({ created: z.number().int(), updated: z.number().int(), credited: z.number().int() });

export const heldBooking = z
  .object({
    bookingUid: z.string(),
    memberEmail: z.string().nullable(),
    eventTypeId: z.number().int().nullable(),
    outcome: z.string(),
    reasons: z.array(reason),
    message: z.string().nullable(),
    decidedBy: z.string(),
    decidedAt: time,
    start: time,
    title: z.string().nullable(),
  })
  .describe('a booking the gate left for a person');

export const operatorOutcome = z.object({ outcome: z.string(), creditsHeld: z.number().int() });

export const room = z.object({
  name: z.string(),
  floor: z.number().int(),
  building: z.string(),
  equipment: z.array(z.string()).readonly(),
  cleaningMinutes: z.number().int(),
  open: z.object({ fromMinute: z.number().int(), toMinute: z.number().int() }).optional(),
  capacity: z.number().int().optional(),
  active: z.boolean(),
  source: z.enum(['config', 'api']),
});

export const roomOption = z
  .object({
    room: z.string(),
    fits: z.boolean(),
    why: z.string().describe('a sentence for the front desk'),
    code: z.string().optional().describe('the rule the room fails (absent when it fits)'),
    occupants: z.array(z.string()).optional().describe('the bookings holding it at that time'),
  })
  .describe('one room for one booking');

export const replanPlan = z
  .object({
    moves: z.array(
      z.object({
        uid: z.string(),
        from: z.string().optional().describe('the room it had (none: it was waiting)'),
        to: z.string().optional().describe('the room it has now (none: no room is left for it)'),
        why: z.enum(['room_unusable', 'made_way', 'placed', 'no_room']),
        detail: z.record(z.string(), z.unknown()),
      }),
    ),
    movedCount: z.number().int(),
    unassigned: z.array(z.object({ uid: z.string(), excluded: z.array(z.unknown()) })),
    method: z.enum(['none', 'direct', 'sweep', 'search', 'greedy']),
    exact: z.boolean().optional(),
  })
  .describe('the bookings a change moved, and those left without a room');

export const booking = z.object({
  uid: z.string(),
  calId: z.number().int().optional(),
  eventTypeId: z.number().int().optional(),
  eventTypeSlug: z.string().optional(),
  status: z.enum(['pending', 'accepted', 'cancelled', 'rejected']),
  title: z.string().optional(),
  start: time,
  end: time,
  organizerId: z.number().int().optional(),
  organizerEmail: z.string().optional(),
  attendeeEmail: z.string().optional(),
  attendeeName: z.string().optional(),
  rescheduledFromUid: z.string().optional(),
  rescheduledToUid: z.string().optional(),
  location: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()),
  meetingState: z.enum(['started', 'ended']).optional(),
  lastEventAt: time.optional(),
});

export const bookingView = z.object({
  booking,
  room: z
    .object({
      name: z.string().nullable(),
      location: z.string().nullable(),
      written: z.boolean().describe('whether Cal.com shows this room yet'),
      writeBack: z.object({ job: z.string(), state: z.string(), runAt: time }).nullable(),
      pinned: z.boolean(),
      from: time,
      clearAt: time,
      reasons: z.record(z.string(), z.unknown()),
    })
    .nullable(),
  gate: z.object({ outcome: z.string() }).loose().nullable(),
  credits: z.object({ amount: z.number().int(), state: z.string(), member: z.string().nullable() }).nullable(),
  attention: z.array(z.object({ code, message: z.string(), ref: z.string().optional() })),
  decisions: z.array(
    z.object({
      id: z.number().int(),
      bookingUid: z.string().nullable(),
      inboxEventId: z.number().int().nullable(),
      kind: z.string(),
      outcome: z.string(),
      reasons: z.array(reason),
      detail: z.record(z.string(), z.unknown()),
      decidedAt: time,
    }),
  ),
  jobs: z.array(presentedJob),
  events: z.array(presentedEvent),
});

export const reconcileResult = z.object({
  pages: z.number().int(),
  seen: z.number().int(),
  fed: z.number().int(),
  watermark: z.string().optional(),
  stoppedEarly: z.string().optional(),
});

export const slots = z
  .record(z.string(), z.array(z.object({ start: time }).loose()))
  .describe('free start times by day (YYYY-MM-DD), as Cal.com lists them');

export const roomBoard = z.object({ at: time }).loose().describe('every room now: in use, free, cleaning or blocked');
