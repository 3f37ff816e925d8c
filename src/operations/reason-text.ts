import { declineMessage } from '../domain/decline-message.ts';
import type { GateReason } from '../domain/gate-policy.ts';
import type { Exclusion, RoomOption } from '../domain/choose-room.ts';
import { ruleCodes, type RuleCode } from '../domain/room-model.ts';
import type { Decision, Reason } from '../store/decisions.ts';

/**
 * Reasons as the front desk reads them. The codes stay in the API and the decision log; the board
 * says "occupied: 1A, 1B" and "Not enough credits: 0 of 1 needed".
 */

function roomList(e: { rooms: readonly string[]; more?: number }): string {
  const names = e.rooms;
  if (e.more) return `${names.join(', ')} and ${e.more} more`;
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** Rooms that fail one rule, as a sentence: "1A and 1B have no xray", "3A is taken then". */
export function exclusionText(e: Exclusion): string {
  const rooms = roomList(e);
  const many = e.rooms.length + (e.more ?? 0) > 1;
  const is = many ? 'are' : 'is';
  switch (e.code) {
    case 'room.occupied':
      return `${rooms} ${is} taken then`;
    case 'room.missing_equipment':
      return `${rooms} ${many ? 'have' : 'has'} no ${((e.detail?.missing as string[] | undefined) ?? []).join(' or ') || 'equipment this needs'}`;
    case 'room.not_allowed_for_doctor':
      return `${rooms} ${is} not the doctor's room${many ? 's' : ''}`;
    case 'room.too_small':
      return `${rooms} ${is} too small for ${String(e.detail?.people ?? 'everyone')}`;
    case 'room.closed':
      return `${rooms} ${is} closed then`;
    case 'room.blocked':
      return `${rooms} ${is} blocked${e.detail?.reason ? ` (${String(e.detail.reason)})` : ''}`;
    case 'room.inactive':
      return `${rooms} ${is} out of service`;
  }
}

/** Why one room cannot take a booking, as a sentence the front desk reads (every rule has one). */
export const RULE_SENTENCES: Record<RuleCode, (detail: Record<string, unknown>) => string> = {
  'room.inactive': () => 'Out of service.',
  'room.missing_equipment': (d) => `It has no ${((d.missing as string[] | undefined) ?? []).join(' or ') || 'equipment this needs'}.`,
  'room.not_allowed_for_doctor': () => "Not one of the doctor's rooms.",
  'room.too_small': (d) => `Holds ${String(d.capacity)}; this needs room for ${String(d.people)}.`,
  'room.closed': () => 'Closed at that time.',
  'room.blocked': (d) => `Blocked${d.reason ? `: ${String(d.reason)}` : ''}.`,
  'room.occupied': () => 'Taken at that time.',
};

/** A room option as the chooser shows it: the room, whether it fits, and why in words. */
export function presentRoomOption(o: RoomOption) {
  if (o.fits) {
    const why = preferenceText(o.preferences);
    return { room: o.room, fits: true as const, why: why ? `Free — ${why}.` : 'Free, and has what this needs.' };
  }
  return {
    room: o.room,
    fits: false as const,
    code: o.code,
    why: RULE_SENTENCES[o.code](o.detail ?? {}),
    ...(o.occupants ? { occupants: o.occupants } : {}),
  };
}
export type PresentedRoomOption = ReturnType<typeof presentRoomOption>;

/** Why a booking waits for a room, from its assignment's reasons. */
export function waitingText(reasons: Record<string, unknown>): string {
  const excluded = (reasons.excluded as Exclusion[] | undefined) ?? [];
  if (excluded.length === 0) return reasons.why === 'no_room' ? 'No room was left after a re-plan.' : 'No room suits it.';
  return `No room is free: ${excluded.map(exclusionText).join('; ')}.`;
}

const PREFERENCE: Record<string, string> = {
  'doctor.same_room_as_previous': "the doctor's room before",
  'doctor.same_room_as_next': "the doctor's room after",
  'doctor.same_floor': "the doctor's floor",
  'room.preferred': 'a preferred room',
};

/** "the doctor's room before, 1 spare piece of equipment". */
export function preferenceText(codes: readonly string[]): string {
  return codes
    .map((c) => {
      const surplus = /^equipment\.surplus:(\d+)$/.exec(c);
      if (surplus) return `${surplus[1]} spare piece${surplus[1] === '1' ? '' : 's'} of equipment`;
      return PREFERENCE[c] ?? c;
    })
    .join(', ');
}

/** Why a booking that had a room was given another one. */
const CAUSE_TEXT: Record<string, string> = {
  seats_taken: 'as the class outgrew its room',
  reassigned: 'for the doctor it was reassigned to',
  room_unfit: 'as its room no longer suited it',
};

function roomReasonText(d: Decision, r: Reason): string {
  const room = (v: unknown) => (v ? `Room ${String(v)}` : 'no room');
  switch (r.code) {
    case 'room.assigned': {
      const why = CAUSE_TEXT[String(r.cause)];
      return `${room(r.room)} chosen${why ? ` ${why}` : ''}${Array.isArray(r.preferences) && r.preferences.length ? ` (${preferenceText(r.preferences as string[])})` : ''}`;
    }
    case 'room.kept_after_reschedule':
      return `${room(r.room)} kept after a reschedule`;
    case 'room.moved_by_operator':
      return `moved ${r.from ? `from ${String(r.from)} ` : ''}to ${String(r.to)} by ${String(r.by)} (pinned)`;
    case 'room.blocked':
      return `${room(r.room)} blocked by ${String(r.by)}: ${String(r.reason)}`;
    case 'room.block_changed':
      return `${room(r.room)} block changed by ${String(r.by)}: ${String(r.reason)}`;
    case 'room.unblocked':
      return `${room(r.room)} unblocked by ${String(r.by)}`;
    case 'room.cleaned':
      return `${room(r.room)} marked clean by ${String(r.by)}`;
    case 'room.write_skipped_ended':
      return 'not written to Cal.com: the appointment had already ended';
    case 'room.not_in_person':
      return `no room needed: ${r.kind === 'video' ? 'a video call' : r.kind === 'phone' ? 'a phone call' : 'an online meeting'} keeps its own location in Cal.com`;
    default:
      // Kept in a room that no longer suits it (a class that outgrew it, a new doctor's rules): nothing better was free.
      if (d.outcome === 'kept' && (ruleCodes as readonly string[]).includes(r.code))
        return `${room(r.room)} kept, though it no longer suits: ${RULE_SENTENCES[r.code as RuleCode](r)} No room that does is free.`;
      if (r.code.startsWith('room.released'))
        return `${room(r.room)} released (${r.code.slice('room.released.'.length).replace(/_/g, ' ') || 'booking ended'})`;
      if (d.outcome === 'moved') return `${room(r.from)} → ${room(r.to)}: ${REASON_SENTENCES[r.code] ?? r.code}`;
      if (d.outcome === 'assigned') return `${room(r.to)} — ${REASON_SENTENCES[r.code] ?? r.code}`;
      return REASON_SENTENCES[r.code] ?? r.code;
  }
}

/**
 * Every other reason code Usher records or shows, as the front desk reads it (one catalogue; the
 * gate's own checks read through their decline messages, a room's rules through RULE_SENTENCES).
 * src/operations/reason-text.test.ts finds every code in the source and checks it is here.
 */
export const REASON_SENTENCES: Record<string, string> = {
  'room.type_needs_none': 'no room needed: its appointment type takes none',
  'room.unassigned': 'no room is free for it; it gets one as soon as one frees up',
  'room.unavailable': 'no room is free at that time',
  'room.room_unusable': 'its room became unusable',
  'room.made_way': 'made way for another booking',
  'room.placed': 'a room came free',
  'room.no_room': 'no room is left for it',
  'gate.confirmed_in_cal': 'confirmed in Cal.com by a person, not by Usher',
  'gate.declined_in_cal': 'declined in Cal.com by a person, not by Usher',
  'gate.event_type_not_configured': 'not checked: its appointment type has no gate rules',
  'gate.held': 'held for a person to approve or decline',
  'gate.undecided': 'not decided yet',
  'booking.not_pending': 'not decided: it was no longer waiting for confirmation',
  'credits.transferred.rescheduled': 'its credit moved with it to the new time',
  'credits.captured.confirmed_in_cal': 'credit taken: confirmed in Cal.com',
  'credits.unpaid': 'confirmed in Cal.com without a credit',
  'credits.unpaid.unknown_member': 'confirmed in Cal.com, but the booker is not a member: no credit taken',
  'credits.unpaid.insufficient': 'confirmed in Cal.com without enough credits: none taken',
  'operator.overrode': 'decided by a person',
  'job.dead': 'a call to Cal.com or a delivery gave up; replay it once the cause is fixed',
  'event.dead': 'an event from Cal.com could not be handled; replay it once the cause is fixed',
};

/** One line for the feed: "Declined — Not enough credits: 0 of 1 needed", "Room 1A → 2B: made way…". */
export function decisionText(d: Decision): string {
  if (d.kind === 'gate') {
    const verdict = d.outcome === 'approve' ? 'Approved' : d.outcome === 'hold' ? 'Held for a person' : 'Declined';
    const operator = d.reasons.find((r) => r.code.startsWith('operator.'));
    if (operator) return `${verdict} by ${String(operator.by)}${operator.note ? ` — ${String(operator.note)}` : ''}`;
    return d.outcome === 'approve'
      ? 'Approved — every check passed'
      : `${verdict} — ${declineMessage(d.reasons as unknown as GateReason[], {})}`;
  }
  if (d.kind === 'room') {
    if (d.outcome === 'unassigned')
      return `Waiting for a room — ${(d.reasons as unknown as Exclusion[]).map((e) => (e.rooms ? exclusionText(e) : e.code)).join('; ') || 'no room matches'}`;
    return d.reasons.map((r) => roomReasonText(d, r)).join('; ');
  }
  if (d.kind === 'credits') return d.reasons.map((r) => REASON_SENTENCES[r.code] ?? r.code).join('; ');
  return `${d.kind} ${d.outcome}`;
}
