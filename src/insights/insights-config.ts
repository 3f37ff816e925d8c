import { z } from 'zod';
import { openHoursText, openMinutes } from '../rooms/room-config.ts';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export const insightsSections = {
  /** What utilisation is measured against: the clinic's hours (a room's own `openHours` wins), holidays. */
  insights: z
    .object({
      openHours: openHoursText.default('08:00-18:00'),
      closedWeekdays: z.array(z.enum(WEEKDAYS)).default([]),
      holidays: z
        .array(
          z
            .string()
            .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD')
            .refine((d) => new Date(`${d}T12:00:00Z`).toISOString().startsWith(d), 'a real date'),
        )
        .default([]),
      /** Idle time shorter than this between two bookings cannot be booked: not counted as a gap. */
      minimumGapMinutes: z.number().int().min(5).max(600).default(30),
    })
    .strict()
    .default({ openHours: '08:00-18:00', closedWeekdays: [], holidays: [], minimumGapMinutes: 30 }),
  /** Room and doctor calendar feeds (iCalendar). */
  calendars: z
    .object({
      /** Full names in new feeds' events unless a feed says otherwise; default initials only. */
      showNames: z.boolean().default(false),
      pastDays: z.number().int().min(0).max(366).default(31),
      aheadDays: z.number().int().min(1).max(731).default(180),
    })
    .strict()
    .default({ showNames: false, pastDays: 31, aheadDays: 180 }),
};

export interface InsightsSettings {
  open: { fromMinute: number; toMinute: number };
  /** ISO weekdays (1 = Monday). */
  closedWeekdays: number[];
  holidays: string[];
  minimumGapMinutes: number;
}

export interface CalendarSettings {
  showNames: boolean;
  pastDays: number;
  aheadDays: number;
}

export function resolveInsightsSettings(file: {
  insights: z.output<(typeof insightsSections)['insights']>;
  calendars: z.output<(typeof insightsSections)['calendars']>;
}): { insights: InsightsSettings; calendars: CalendarSettings } {
  return {
    insights: {
      open: openMinutes(file.insights.openHours)!,
      closedWeekdays: file.insights.closedWeekdays.map((d) => WEEKDAYS.indexOf(d) + 1),
      holidays: file.insights.holidays,
      minimumGapMinutes: file.insights.minimumGapMinutes,
    },
    calendars: { ...file.calendars },
  };
}
