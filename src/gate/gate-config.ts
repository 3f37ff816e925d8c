import { z } from 'zod';
import { schemaFaults } from '../config-faults.ts';
import { declineTemplateFaults } from '../domain/decline-message.ts';
import type { GatePolicy, GateReasonCode, UnknownMemberAction } from '../domain/gate-policy.ts';

const positiveInt = z.number().int().positive();

/** One event type's gate (config `eventTypes.<id>.gate`, over `gate.defaults`). */
const gatePolicySchema = z
  .object({
    creditCost: z.number().int().min(0).default(0),
    requireMembership: z.boolean().default(true),
    minNoticeMinutes: z.number().int().min(0).optional(),
    bookingWindowDays: z.number().positive().optional(),
    minDurationMinutes: positiveInt.optional(),
    maxDurationMinutes: positiveInt.optional(),
    maxBookingsPerMember: z
      .object({ day: positiveInt.optional(), week: positiveInt.optional(), month: positiveInt.optional() })
      .strict()
      .optional(),
    limitScope: z.enum(['eventType', 'all']).default('eventType'),
    allow: z.array(z.string().trim().min(1)).default([]),
    deny: z.array(z.string().trim().min(1)).default([]),
  })
  .strict();

export const gateSectionSchema = z
  .object({
    unknownMember: z.enum(['decline', 'hold']).default('decline'),
    /** Captured credits come back when the member cancels at least this long before the start. */
    cancellationWindowHours: z.number().min(0).default(24),
    messages: z.record(z.string(), z.string().min(1).max(500)).default({}),
    defaults: z.record(z.string(), z.unknown()).default({}),
    /** Approve a requested booking only if a room can be held for it (rooms and credits in one transaction). */
    requireRoom: z.boolean().default(false),
  })
  .strict()
  .default({ unknownMember: 'decline', cancellationWindowHours: 24, messages: {}, defaults: {}, requireRoom: false });

export interface GateSettings {
  unknownMember: UnknownMemberAction;
  cancellationWindowHours: number;
  messages: Partial<Record<GateReasonCode, string>>;
  /** Gated event types by Cal.com id; an event type without an entry is not gated. */
  policies: Record<string, GatePolicy>;
}

/**
 * Builds the gate's settings from the parsed `gate` section and the raw `gate` entries of
 * `eventTypes`, listing every fault with its path (STYLE §6).
 */
export function resolveGateSettings(
  section: z.infer<typeof gateSectionSchema>,
  eventTypeGates: Record<string, unknown>,
): { settings: GateSettings; faults: string[] } {
  const faults = declineTemplateFaults(section.messages);
  const policies: Record<string, GatePolicy> = {};
  for (const [id, raw] of Object.entries(eventTypeGates)) {
    const merged = { ...section.defaults, ...(raw as Record<string, unknown>) };
    const parsed = gatePolicySchema.safeParse(merged);
    if (!parsed.success) {
      faults.push(...schemaFaults(gatePolicySchema, parsed.error.issues, `eventTypes.${id}.gate.`));
      continue;
    }
    const p = parsed.data;
    if (p.minDurationMinutes !== undefined && p.maxDurationMinutes !== undefined && p.minDurationMinutes > p.maxDurationMinutes) {
      faults.push(
        `eventTypes.${id}.gate: minDurationMinutes (${p.minDurationMinutes}) is above maxDurationMinutes (${p.maxDurationMinutes})`,
      );
    }
    const { minNoticeMinutes, bookingWindowDays, minDurationMinutes, maxDurationMinutes, maxBookingsPerMember, ...rest } = p;
    policies[id] = {
      ...rest,
      ...(minNoticeMinutes !== undefined ? { minNoticeMinutes } : {}),
      ...(bookingWindowDays !== undefined ? { bookingWindowDays } : {}),
      ...(minDurationMinutes !== undefined ? { minDurationMinutes } : {}),
      ...(maxDurationMinutes !== undefined ? { maxDurationMinutes } : {}),
      ...(maxBookingsPerMember ? { maxBookingsPerMember } : {}),
    };
  }
  if (Object.keys(section.defaults).length > 0) {
    const parsed = gatePolicySchema.safeParse(section.defaults);
    if (!parsed.success)
      for (const issue of parsed.error.issues) faults.push(`gate.defaults.${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return {
    settings: {
      unknownMember: section.unknownMember,
      cancellationWindowHours: section.cancellationWindowHours,
      messages: section.messages as Partial<Record<GateReasonCode, string>>,
      policies,
    },
    faults,
  };
}
