import { renderText, templateFaults } from './template.ts';
import { gateReasonCodes, gateReasonFields, type GateReason, type GateReasonCode } from './gate-policy.ts';

/** The text a booker sees when the gate declines, per failed check (config `gate.messages`). */
export const defaultDeclineMessages: Partial<Record<GateReasonCode, string>> = {
  'member.unknown': 'We could not find a membership for this e-mail address',
  'member.no_email': 'This booking has no e-mail address to find your membership by',
  'member.inactive': 'Your membership is not active',
  'membership.expired': 'Your membership ends on {{membershipUntil}}, before this booking',
  'notice.too_short': 'Bookings need at least {{minNoticeMinutes}} minutes of notice',
  'window.too_far': 'Bookings open {{bookingWindowDays}} days ahead',
  'duration.too_short': 'Bookings must last at least {{minDurationMinutes}} minutes',
  'duration.too_long': 'Bookings may last at most {{maxDurationMinutes}} minutes',
  'limit.reached': 'Limit reached: {{limit}} bookings per {{period}}',
  'email.denied': 'This e-mail address cannot book this session',
  'email.not_allowed': 'This session is open to members of listed organisations only',
  'credits.insufficient': 'Not enough credits: {{available}} of {{needed}} needed',
  'room.unavailable': 'No room is free at that time',
};

/** Cal.com stores the reason as `rejectionReason` and shows it to the booker; keep it short. */
export const MAX_DECLINE_MESSAGE_CHARS = 500;

/** Problems with configured templates: unknown codes and placeholders a reason does not carry. */
export function declineTemplateFaults(messages: Record<string, string>): string[] {
  const faults: string[] = [];
  for (const [code, template] of Object.entries(messages)) {
    if (!(gateReasonCodes as readonly string[]).includes(code)) {
      faults.push(
        `gate.messages.${code}: unknown reason code (known: ${gateReasonCodes.filter((c) => defaultDeclineMessages[c]).join(', ')})`,
      );
      continue;
    }
    faults.push(...templateFaults(`gate.messages.${code}`, template, gateReasonFields[code as GateReasonCode]));
  }
  return faults;
}

/** Joins the message of every failed check, in the order they were checked. */
export function declineMessage(reasons: readonly GateReason[], messages: Partial<Record<GateReasonCode, string>>): string {
  const parts = reasons.filter((r) => !r.ok).map((r) => renderText(messages[r.code] ?? defaultDeclineMessages[r.code] ?? r.code, r));
  const text = parts.join('; ') || 'Declined';
  return text.length > MAX_DECLINE_MESSAGE_CHARS ? `${text.slice(0, MAX_DECLINE_MESSAGE_CHARS - 1)}…` : text;
}
