import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bookingOutput } from './booking-output.ts';
import { bareError, calError, validationError } from './sandbox-errors.ts';
import type { SandboxState, SbBooking } from './sandbox-state.ts';
import type { WebhookSender } from './webhook-sender.ts';

export interface BookingRoutesOptions {
  state: SandboxState;
  sender: WebhookSender;
  now: () => Date;
  /** The host an API key belongs to, or undefined for an anonymous caller. */
  callerHost: (req: FastifyRequest) => number | undefined;
  /** Extra throttle of `PATCH …/location` (CONTRACT §4.1); false when it refused. */
  locationThrottle: (req: FastifyRequest, reply: FastifyReply) => boolean;
}

const BOOKING_VERSIONS = ['2024-08-13', '2026-02-25'];

const createBody = z.object({
  start: z.string().datetime({ offset: true }),
  eventTypeId: z.number().int(),
  // CONTRACT §4.2: email is optional; a phone-only attendee (phoneNumber) gets `<digits>@sms.cal.com`.
  attendee: z
    .object({
      name: z.string().min(1),
      email: z.string().email().optional(),
      phoneNumber: z
        .string()
        .regex(/^\+\d{6,15}$/)
        .optional(),
      timeZone: z.string(),
      language: z.string().optional(),
    })
    .refine((a) => a.email !== undefined || a.phoneNumber !== undefined, { message: 'email or phoneNumber is required', path: ['email'] }),
  lengthInMinutes: z.number().int().positive().optional(),
  // CONTRACT §4.2: a recurring booking (CreateRecurringBookingInput) says how many occurrences.
  recurrenceCount: z.number().int().positive().optional(),
  metadata: z
    .record(z.string().max(40), z.string().max(500))
    .refine((m) => Object.keys(m).length <= 50, 'metadata: at most 50 keys')
    .optional(),
});

const locationBody = z.object({
  location: z.discriminatedUnion('type', [
    z.object({ type: z.literal('address'), address: z.string().min(1) }),
    z.object({ type: z.literal('link'), link: z.string().url() }),
    z.object({ type: z.literal('phone'), phone: z.string().regex(/^\+\d{6,15}$/) }),
    z.object({ type: z.literal('attendeeAddress'), address: z.string().optional() }),
    z.object({ type: z.literal('attendeePhone'), phone: z.string().optional() }),
    z.object({ type: z.literal('attendeeDefined'), location: z.string().optional() }),
  ]),
});

function ok(reply: FastifyReply, data: unknown, status = 200) {
  return reply.code(status).send({ status: 'success', data });
}

function badRequest(reply: FastifyReply, req: FastifyRequest, message: string) {
  return calError(reply, req, 400, 'BadRequestException', message);
}

/** `/v2/bookings…` of the 2024-08-13 controllers (CONTRACT §4.2). */
export async function sandboxBookingRoutes(app: FastifyInstance, o: BookingRoutesOptions): Promise<void> {
  const { state, sender, now } = o;

  app.addHook('onRequest', async (req, reply) => {
    const version = req.headers['cal-api-version'];
    if (typeof version === 'string' && BOOKING_VERSIONS.includes(version)) return;
    // /location and /guests have no fallback version: 404 (CONTRACT §4.2). The rest would fall back
    // to the legacy 2024-04-15 controllers, which the sandbox does not emulate: say so plainly.
    if (/\/(location|guests)$/.test(req.url.split('?')[0]!))
      return calError(reply, req, 404, 'NotFoundException', `Cannot ${req.method} ${req.url}`);
    return calError(
      reply,
      req,
      400,
      'BadRequestException',
      'sandbox: missing or unknown cal-api-version; Cal.com would silently use its legacy 2024-04-15 controllers here',
    );
  });

  const find = (req: FastifyRequest, reply: FastifyReply): SbBooking | undefined => {
    const uid = (req.params as { uid: string }).uid;
    const booking = state.bookings.get(uid);
    if (!booking) void calError(reply, req, 404, 'NotFoundException', `Booking with uid=${uid} was not found in the database`);
    return booking;
  };
  const requireHost = (req: FastifyRequest, reply: FastifyReply, booking?: SbBooking): number | undefined => {
    const host = o.callerHost(req);
    if (host === undefined) {
      void calError(reply, req, 401, 'UnauthorizedException', 'Invalid Access Token.');
      return undefined;
    }
    if (booking && booking.hostId !== host && !state.orgAdmins.has(host)) {
      void calError(reply, req, 403, 'ForbiddenException', 'You are not allowed to manage this booking');
      return undefined;
    }
    return host;
  };

  app.post('/v2/bookings', async (req, reply) => {
    const parsed = createBody.safeParse(req.body);
    if (!parsed.success) return validationError(reply, req, parsed.error.issues);
    const input = parsed.data;
    const eventType = state.eventTypes.get(input.eventTypeId);
    if (!eventType) return calError(reply, req, 404, 'NotFoundException', `Event type with id=${input.eventTypeId} not found`);
    const start = new Date(input.start);
    if (start.getTime() < now().getTime()) return badRequest(reply, req, 'Attempting to book a meeting in the past.');
    const end = new Date(start.getTime() + (input.lengthInMinutes ?? eventType.lengthInMinutes) * 60_000);
    const attendee = {
      name: input.attendee.name,
      // Cal.com's contructEmailFromPhoneNumber: the digits of the number, at sms.cal.com.
      email: input.attendee.email ?? `${input.attendee.phoneNumber!.replace(/\D/g, '')}@sms.cal.com`,
      timeZone: input.attendee.timeZone,
      ...(input.attendee.phoneNumber ? { phoneNumber: input.attendee.phoneNumber } : {}),
    };
    const seated = eventType.seatsPerTimeSlot ? state.seatedBookingAt(eventType.id, start) : undefined;
    if (seated?.seats && eventType.seatsPerTimeSlot) {
      // Cal.com's handleSeats/createNewSeat: the slot's booking gains a seat, under the same uid, and
      // BOOKING_CREATED goes out again listing every attendee (CONTRACT §1.2).
      if (seated.seats.some((s) => s.attendee.email.toLowerCase() === attendee.email.toLowerCase()))
        return calError(reply, req, 409, 'ConflictException', 'already_signed_up_for_this_booking_error');
      if (seated.seats.length >= eventType.seatsPerTimeSlot)
        return calError(reply, req, 409, 'ConflictException', 'booking_seats_full_error');
      const seat = { uid: randomUUID(), attendee };
      seated.seats.push(seat);
      seated.updatedAt = now();
      sender.booking('BOOKING_CREATED', seated);
      return ok(reply, { ...bookingOutput(state, seated), seatUid: seat.uid }, 201);
    }
    if (eventType.recurringEvent && input.recurrenceCount) {
      // handleNewRecurringBooking: one booking per occurrence (each its own uid and BOOKING_CREATED,
      // carrying the event type's rule), sharing one recurringEventId; the answer lists them all.
      const rule = eventType.recurringEvent;
      const count = Math.min(input.recurrenceCount, rule.count);
      const stepMs = (rule.freq === 3 ? 1 : 7) * rule.interval * 86_400_000; // RRule: 2 weekly, 3 daily
      const recurringEventId = randomUUID();
      const occurrences = [];
      for (let i = 0; i < count; i++) {
        const s = new Date(start.getTime() + i * stepMs);
        const e = new Date(end.getTime() + i * stepMs);
        if (state.hostBusy(eventType.hostId, s, e))
          return badRequest(reply, req, 'User either already has booking at this time or is not available');
        occurrences.push({ s, e });
      }
      const made = occurrences.map(({ s, e }) =>
        state.newBooking(
          {
            eventTypeId: eventType.id,
            hostId: eventType.hostId,
            attendee,
            start: s,
            end: e,
            status: eventType.requiresConfirmation ? 'pending' : 'accepted',
            location: eventType.location,
            metadata: input.metadata ?? {},
            recurringEventId,
          },
          now(),
        ),
      );
      for (const b of made) sender.booking(eventType.requiresConfirmation ? 'BOOKING_REQUESTED' : 'BOOKING_CREATED', b);
      return ok(
        reply,
        made.map((b) => ({ ...bookingOutput(state, b), recurringBookingUid: recurringEventId })),
        201,
      );
    }
    // Team events: round robin takes the first free host, collective needs every host free.
    const team = eventType.teamHostIds ?? [eventType.hostId];
    const free = team.filter((h) => !state.hostBusy(h, start, end));
    const hosts = eventType.schedulingType === 'ROUND_ROBIN' ? free.slice(0, 1) : free.length === team.length ? team : [];
    if (hosts.length === 0) return badRequest(reply, req, 'User either already has booking at this time or is not available');
    const booking = state.newBooking(
      {
        eventTypeId: eventType.id,
        hostId: hosts[0]!,
        ...(hosts.length > 1 ? { coHostIds: hosts.slice(1) } : {}),
        attendee,
        start,
        end,
        status: eventType.requiresConfirmation ? 'pending' : 'accepted',
        location: eventType.location,
        metadata: input.metadata ?? {},
        ...(eventType.seatsPerTimeSlot ? { seats: [{ uid: randomUUID(), attendee }] } : {}),
      },
      now(),
    );
    // CONTRACT §1.2: a booking that needs confirmation sends BOOKING_REQUESTED only.
    sender.booking(eventType.requiresConfirmation ? 'BOOKING_REQUESTED' : 'BOOKING_CREATED', booking);
    return ok(reply, { ...bookingOutput(state, booking), ...(booking.seats ? { seatUid: booking.seats[0]!.uid } : {}) }, 201);
  });

  app.get('/v2/bookings/:uid', async (req, reply) => {
    const booking = find(req, reply);
    if (booking) return ok(reply, bookingOutput(state, booking));
  });

  // CONTRACT §4.2 "List": a key's bookings; an organisation's admin also sees its members' here. The
  // organisation's own list (`/v2/organizations/{orgId}/bookings`, same query and output) is its admins'.
  app.get('/v2/bookings', async (req, reply) => {
    if (requireHost(req, reply) === undefined) return;
    return listBookings(req, reply);
  });
  app.get('/v2/organizations/:orgId/bookings', async (req, reply) => {
    const host = requireHost(req, reply);
    if (host === undefined) return;
    if (state.orgOf(host) !== Number((req.params as { orgId: string }).orgId) || !state.orgAdmins.has(host))
      return calError(reply, req, 403, 'ForbiddenException', 'You are not an admin or owner of this organization');
    return listBookings(req, reply);
  });

  async function listBookings(req: FastifyRequest, reply: FastifyReply) {
    const q = req.query as Record<string, string | undefined>;
    const take = Math.min(Number(q.take ?? 100), 250);
    const skip = Number(q.skip ?? 0);
    if (!Number.isInteger(take) || take < 1 || !Number.isInteger(skip) || skip < 0)
      return badRequest(reply, req, 'take and skip must be non-negative integers; take at most 250');
    const views = q.status?.split(',').filter(Boolean) ?? [];
    const at = now();
    const inView = (b: SbBooking) =>
      views.length === 0 ||
      views.some((v) =>
        v === 'upcoming'
          ? b.end > at && (b.status === 'accepted' || b.status === 'pending')
          : v === 'past'
            ? b.end <= at && b.status !== 'cancelled' && b.status !== 'rejected'
            : v === 'cancelled'
              ? b.status === 'cancelled' || b.status === 'rejected'
              : v === 'unconfirmed'
                ? b.status === 'pending' && b.end > at
                : false,
      );
    const after = (name: string) => (q[name] ? new Date(q[name]!) : undefined);
    const afterUpdatedAt = after('afterUpdatedAt');
    const afterStart = after('afterStart');
    const beforeEnd = after('beforeEnd');
    let list = [...state.bookings.values()].filter(
      (b) =>
        inView(b) &&
        (!afterUpdatedAt || b.updatedAt >= afterUpdatedAt) &&
        (!afterStart || b.start >= afterStart) &&
        (!beforeEnd || b.end <= beforeEnd) &&
        (!q.attendeeEmail || b.attendee.email.toLowerCase() === q.attendeeEmail.toLowerCase()) &&
        (!q.eventTypeId || b.eventTypeId === Number(q.eventTypeId)),
    );
    const dir = q.sortUpdatedAt === 'desc' ? -1 : 1;
    list = q.sortUpdatedAt
      ? list.sort((a, b) => dir * (a.updatedAt.getTime() - b.updatedAt.getTime()) || a.id - b.id)
      : list.sort((a, b) => a.start.getTime() - b.start.getTime());
    const page = list.slice(skip, skip + take);
    return reply.send({
      status: 'success',
      data: page.map((b) => bookingOutput(state, b)),
      pagination: {
        totalItems: list.length,
        remainingItems: Math.max(0, list.length - skip - page.length),
        returnedItems: page.length,
        itemsPerPage: take,
        currentPage: Math.floor(skip / take) + 1,
        totalPages: Math.ceil(list.length / take),
        hasNextPage: skip + page.length < list.length,
        hasPreviousPage: skip > 0,
      },
    });
  }

  app.post('/v2/bookings/:uid/confirm', async (req, reply) => {
    const booking = find(req, reply);
    if (!booking || requireHost(req, reply, booking) === undefined) return;
    // CONTRACT §4.2: an already accepted booking gives a generic 400.
    if (booking.status !== 'pending')
      return calError(reply, req, 400, 'TRPCError', 'Bad request: Please check your request data and try again');
    booking.status = 'accepted';
    booking.updatedAt = now();
    sender.booking('BOOKING_CREATED', booking, { viaConfirm: true });
    return ok(reply, bookingOutput(state, booking));
  });

  app.post('/v2/bookings/:uid/decline', async (req, reply) => {
    const booking = find(req, reply);
    if (!booking || requireHost(req, reply, booking) === undefined) return;
    if (booking.status !== 'pending')
      return calError(reply, req, 400, 'TRPCError', 'Bad request: Please check your request data and try again');
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    booking.status = 'rejected';
    if (typeof reason === 'string' && reason) booking.rejectionReason = reason;
    booking.updatedAt = now();
    sender.booking('BOOKING_REJECTED', booking);
    return ok(reply, bookingOutput(state, booking));
  });

  app.post('/v2/bookings/:uid/cancel', async (req, reply) => {
    const booking = find(req, reply);
    if (!booking) return;
    const {
      cancellationReason: reason,
      seatUid,
      cancelSubsequentBookings,
    } = (req.body ?? {}) as { cancellationReason?: unknown; seatUid?: unknown; cancelSubsequentBookings?: unknown };
    if (booking.status === 'cancelled') return badRequest(reply, req, 'This booking has been cancelled already.');
    if (booking.end <= now()) return badRequest(reply, req, 'Cannot cancel a booking that has already ended');
    if (seatUid !== undefined) {
      const seat = booking.seats?.find((s) => s.uid === seatUid);
      if (!seat) return badRequest(reply, req, 'User not a part of this booking');
      // Cal.com's cancelAttendeeSeat: with others left, only this seat goes, and BOOKING_CANCELLED
      // lists only its attendee while the booking stands (CONTRACT §1.2). The last seat cancels it all.
      if (booking.seats!.length > 1) {
        booking.seats = booking.seats!.filter((s) => s !== seat);
        booking.attendee = booking.seats[0]!.attendee;
        booking.updatedAt = now();
        sender.booking('BOOKING_CANCELLED', booking, { attendees: [seat.attendee], status: 'CANCELLED' });
        return ok(reply, bookingOutput(state, booking));
      }
    }
    // CONTRACT §4.2: the host must give a reason; the shared handler's HttpError comes back bare.
    if (o.callerHost(req) === booking.hostId && (typeof reason !== 'string' || !reason)) {
      return bareError(reply, 400, 'Cancellation reason is required when you are the host');
    }
    booking.status = 'cancelled';
    if (typeof reason === 'string' && reason) booking.cancellationReason = reason;
    booking.updatedAt = now();
    sender.booking('BOOKING_CANCELLED', booking);
    if (cancelSubsequentBookings === true && booking.recurringEventId) {
      // handleCancelBooking: the later occurrences are cancelled by one updateMany, and no webhook
      // goes out for them (the API lists them cancelled, updatedAt moved).
      for (const later of state.bookings.values()) {
        if (later.recurringEventId !== booking.recurringEventId || later.start < booking.start || later.status === 'cancelled') continue;
        later.status = 'cancelled';
        if (typeof reason === 'string' && reason) later.cancellationReason = reason;
        later.updatedAt = now();
      }
    }
    return ok(reply, bookingOutput(state, booking));
  });

  app.post('/v2/bookings/:uid/reschedule', async (req, reply) => {
    const old = find(req, reply);
    if (!old) return;
    const body = z
      .object({
        start: z.string().datetime({ offset: true }),
        reschedulingReason: z.string().optional(),
        rescheduledBy: z.string().optional(),
      })
      .safeParse(req.body);
    if (!body.success) return badRequest(reply, req, 'start: must be an ISO 8601 date-time');
    if (old.status === 'cancelled' || old.status === 'rejected')
      return badRequest(reply, req, 'Cannot reschedule a cancelled or rejected booking');
    const eventType = state.eventTypes.get(old.eventTypeId)!;
    const start = new Date(body.data.start);
    const end = new Date(start.getTime() + (old.end.getTime() - old.start.getTime()));
    if (start < now()) return badRequest(reply, req, 'Attempting to book a meeting in the past.');
    if (state.hostBusy(old.hostId, start, end, old.uid))
      return badRequest(reply, req, 'User either already has booking at this time or is not available');
    const byOwner = o.callerHost(req) === old.hostId;
    const needsConfirmation = eventType.requiresConfirmation && !byOwner;
    const fresh = state.newBooking(
      {
        eventTypeId: old.eventTypeId,
        hostId: old.hostId,
        attendee: old.attendee,
        start,
        end,
        status: needsConfirmation ? 'pending' : 'accepted',
        location: old.location,
        metadata: old.metadata,
        rescheduledFromUid: old.uid,
        ...(body.data.reschedulingReason ? { reschedulingReason: body.data.reschedulingReason } : {}),
      },
      now(),
    );
    // CONTRACT §1.3: the old booking is cancelled silently, even when the new one is pending.
    old.status = 'cancelled';
    old.rescheduledToUid = fresh.uid;
    old.updatedAt = now();
    sender.booking(needsConfirmation ? 'BOOKING_REQUESTED' : 'BOOKING_RESCHEDULED', fresh, {
      reschedule: {
        id: old.id,
        uid: old.uid,
        start: old.start,
        end: old.end,
        ...(body.data.rescheduledBy ? { by: body.data.rescheduledBy } : {}),
      },
    });
    return ok(reply, bookingOutput(state, fresh), 201);
  });

  // Round robin (CONTRACT §4.2 "Reassign (to user)"): the same booking gets another host. Cal.com's
  // docs add a BOOKING_REASSIGNED webhook whose payload is the booking's, `organizer` the new host,
  // with the host ids added and removed (CONTRACT §1.2 calls its payload unconfirmed: this is the
  // documented shape).
  app.post('/v2/bookings/:uid/reassign/:userId', async (req, reply) => {
    const booking = find(req, reply);
    if (!booking || requireHost(req, reply, booking) === undefined) return;
    const to = state.hosts.get(Number((req.params as { userId: string }).userId));
    if (!to) return calError(reply, req, 404, 'NotFoundException', 'User not found');
    if (booking.status !== 'accepted' && booking.status !== 'pending') return badRequest(reply, req, 'Booking is not active');
    const from = booking.hostId;
    booking.hostId = to.id;
    booking.updatedAt = now();
    sender.booking('BOOKING_REASSIGNED', booking, { fields: { addedHostUserIds: [to.id], removedHostUserIds: [from] } });
    return ok(reply, { bookingUid: booking.uid, reassignedTo: { id: to.id, name: to.name, email: to.email, displayEmail: to.email } });
  });

  app.patch('/v2/bookings/:uid/location', async (req, reply) => {
    const booking = find(req, reply);
    if (!booking || requireHost(req, reply, booking) === undefined) return;
    if (!o.locationThrottle(req, reply)) return;
    const type = (req.body as { location?: { type?: unknown } } | undefined)?.location?.type;
    if (type === 'integration' || type === 'organizersDefaultApp') {
      return badRequest(reply, req, 'Valid types are address, link, phone, attendeePhone, attendeeAddress, and attendeeDefined');
    }
    const parsed = locationBody.safeParse(req.body);
    if (!parsed.success) return badRequest(reply, req, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const l = parsed.data.location;
    booking.location =
      l.type === 'address' || l.type === 'attendeeAddress'
        ? (l.address ?? null)
        : l.type === 'link'
          ? l.link
          : l.type === 'phone' || l.type === 'attendeePhone'
            ? (l.phone ?? null)
            : (l.location ?? null);
    booking.updatedAt = now();
    // CONTRACT §1.2: a location update sends no webhook.
    return ok(reply, bookingOutput(state, booking));
  });
}
