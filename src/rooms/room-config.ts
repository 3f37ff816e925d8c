import { z } from 'zod';
import { defaultLocationTemplate, locationTemplateFaults } from '../domain/location-text.ts';
import { defaultWeights, type SoftWeights } from '../domain/room-model.ts';

const HHMM = /^([01]\d|2[0-4]):([0-5]\d)$/;
const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Daily opening hours as the config writes them: "08:00-18:00", in the business's time zone. */
export const openHoursText = z.string().refine((v) => {
  const [from, to] = v.split('-');
  return !!from && !!to && HHMM.test(from) && HHMM.test(to) && minutesOf(from) < minutesOf(to);
}, 'openHours must look like "08:00-18:00" (from before to)');

export const roomSchema = z
  .object({
    name: z.string().trim().min(1).max(40),
    floor: z.number().int().default(0),
    building: z.string().default(''),
    equipment: z.array(z.string().trim().min(1)).default([]),
    cleaningMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(0),
    /** "08:00-18:00" in the business's time zone; absent = always open. */
    openHours: openHoursText.optional(),
    /** How many people it holds (a seated class needs one seat each); absent: not limited. */
    capacity: z.number().int().positive().optional(),
  })
  .strict();
export type RoomConfig = z.infer<typeof roomSchema>;

export function openMinutes(openHours: string | undefined): { fromMinute: number; toMinute: number } | undefined {
  if (!openHours) return undefined;
  const [from, to] = openHours.split('-') as [string, string];
  return { fromMinute: minutesOf(from), toMinute: minutesOf(to) };
}

export const roomSections = {
  rooms: z.array(roomSchema).default([]),
  /** Keyed by Cal.com organizer id or e-mail. */
  doctors: z
    .record(z.string(), z.object({ rooms: z.array(z.string()).optional(), preferredRooms: z.array(z.string()).default([]) }).strict())
    .default({}),
  location: z
    .object({ template: z.string().min(1).default(defaultLocationTemplate) })
    .strict()
    .default({ template: defaultLocationTemplate }),
  planner: z
    .object({
      freezeMinutes: z.number().int().min(0).default(30),
      replanIntervalSeconds: z.number().min(0).default(300),
      weights: z
        .object({
          sameRoom: z.number().min(0).optional(),
          preferred: z.number().min(0).optional(),
          sameFloor: z.number().min(0).optional(),
          surplusPerItem: z.number().min(0).optional(),
          balancePerHour: z.number().min(0).optional(),
        })
        .strict()
        .default({}),
    })
    .strict()
    .default({ freezeMinutes: 30, replanIntervalSeconds: 300, weights: {} }),
};

export interface RoomSettings {
  doctors: Record<string, { rooms?: string[]; preferredRooms: string[] }>;
  /** Equipment each event type needs, and event types that need no room at all. */
  eventTypes: Record<string, { equipment: string[]; needsRoom: boolean }>;
  locationTemplate: string;
  freezeMinutes: number;
  replanIntervalSeconds: number;
  weights: SoftWeights;
  /** Gate: approve a requested booking only if a room can be held for it (in the same transaction). */
  requireRoom: boolean;
}

export function resolveRoomSettings(
  file: {
    rooms: RoomConfig[];
    doctors: RoomSettings['doctors'];
    location: { template: string };
    planner: { freezeMinutes: number; replanIntervalSeconds: number; weights: Partial<SoftWeights> };
    eventTypes: Record<string, { equipment?: string[] | undefined; needsRoom?: boolean | undefined }>;
  },
  requireRoom: boolean,
): { settings: RoomSettings; faults: string[] } {
  const faults = locationTemplateFaults(file.location.template);
  const names = new Set<string>();
  for (const r of file.rooms) {
    if (names.has(r.name)) faults.push(`rooms: "${r.name}" is listed twice`);
    names.add(r.name);
  }
  if (file.rooms.length > 0) {
    for (const [doctor, d] of Object.entries(file.doctors)) {
      for (const name of [...(d.rooms ?? []), ...d.preferredRooms]) {
        if (!names.has(name)) faults.push(`doctors.${doctor}: room "${name}" is not in rooms`);
      }
    }
  }
  const eventTypes: RoomSettings['eventTypes'] = {};
  for (const [id, t] of Object.entries(file.eventTypes)) eventTypes[id] = { equipment: t.equipment ?? [], needsRoom: t.needsRoom ?? true };
  const weights: SoftWeights = { ...defaultWeights };
  for (const [k, v] of Object.entries(file.planner.weights)) if (v !== undefined) weights[k as keyof SoftWeights] = v;
  return {
    settings: {
      doctors: file.doctors,
      eventTypes,
      locationTemplate: file.location.template,
      freezeMinutes: file.planner.freezeMinutes,
      replanIntervalSeconds: file.planner.replanIntervalSeconds,
      weights,
      requireRoom,
    },
    faults,
  };
}
