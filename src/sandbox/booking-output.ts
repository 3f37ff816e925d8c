import type { SandboxState, SbBooking } from './sandbox-state.ts';

/** `BookingOutput_2024_08_13` (CONTRACT §4.2): lowercase status, ISO times, hosts and attendees. */
export function bookingOutput(state: SandboxState, b: SbBooking) {
  const host = state.hosts.get(b.hostId)!;
  const eventType = state.eventTypes.get(b.eventTypeId)!;
  return {
    id: b.id,
    uid: b.uid,
    title: `${eventType.title} between ${host.name} and ${b.attendee.name}`,
    description: '',
    // A collective booking's hosts are all of them, the organiser first.
    hosts: [host, ...(b.coHostIds ?? []).map((h) => state.hosts.get(h)!)].map((h) => ({
      id: h.id,
      name: h.name,
      email: h.email,
      displayEmail: h.email,
      username: h.username,
      timeZone: h.timeZone,
    })),
    status: b.status,
    ...(b.cancellationReason ? { cancellationReason: b.cancellationReason } : {}),
    ...(b.rejectionReason ? { rejectionReason: b.rejectionReason } : {}),
    ...(b.reschedulingReason ? { reschedulingReason: b.reschedulingReason } : {}),
    ...(b.rescheduledFromUid ? { rescheduledFromUid: b.rescheduledFromUid } : {}),
    ...(b.rescheduledToUid ? { rescheduledToUid: b.rescheduledToUid } : {}),
    start: b.start.toISOString(),
    end: b.end.toISOString(),
    duration: Math.round((b.end.getTime() - b.start.getTime()) / 60_000),
    eventTypeId: eventType.id,
    eventType: { id: eventType.id, slug: eventType.slug },
    meetingUrl: b.location ?? undefined,
    location: b.location ?? undefined,
    absentHost: false,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
    metadata: b.metadata,
    // Seated bookings list each seat's attendee with its seatUid (GetSeatedBookingOutput_2024_08_13).
    attendees: (b.seats ?? [{ uid: undefined, attendee: b.attendee }]).map(({ uid, attendee }) => ({
      name: attendee.name,
      email: attendee.email,
      displayEmail: attendee.email,
      timeZone: attendee.timeZone,
      language: 'en',
      absent: false,
      ...('phoneNumber' in attendee && attendee.phoneNumber ? { phoneNumber: attendee.phoneNumber } : {}),
      ...(uid ? { seatUid: uid } : {}),
    })),
    ...(eventType.seatsPerTimeSlot ? { seatsPerTimeSlot: eventType.seatsPerTimeSlot } : {}),
    guests: [],
    bookingFieldsResponses: { name: b.attendee.name, email: b.attendee.email },
  };
}
