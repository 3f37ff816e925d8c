import { z } from 'zod';
import { checkoutSchema, type CheckoutRequest } from '../bookings/checkout.ts';
import type { ReconcileResult } from '../cal/reconciler.ts';
import type { NewFeed, PresentedFeed } from '../insights/calendar-feed.ts';
import type { InsightsQuery, InsightsReport } from '../insights/insights-report.ts';
import type { WhatIfQuery, WhatIfResult } from '../insights/what-if.ts';
import type { heldBookings, ImportResult } from '../gate/gate-operations.ts';
import type { CreditBalance, LedgerEntry } from '../store/credits.ts';
import type { Member } from '../store/members.ts';
import type { RoomRecord } from '../store/rooms.ts';
import type { BookingView } from './booking-view.ts';
import type { PresentedEvent, PresentedJob } from './present-work.ts';
import type { PresentedReplan } from './present-replan.ts';
import type { PresentedRoomOption } from './reason-text.ts';

/**
 * What an operator can do to a running Usher, declared once. Two implementations: local (the
 * store itself — the admin API's routes and the CLI beside the data) and remote (the admin API, for
 * the CLI on another machine). Inputs are parsed by the schemas below on both paths, so the CLI
 * refuses what the API would refuse before any work, and the API documents exactly what it takes.
 */
export interface Operations {
  listEvents(q: WorkQuery): Promise<PresentedEvent[]>;
  getEvent(ref: string): Promise<PresentedEvent>;
  listJobs(q: WorkQuery): Promise<PresentedJob[]>;
  getJob(ref: string): Promise<PresentedJob>;
  replay(ref: string): Promise<PresentedEvent | PresentedJob>;
  reconcile(): Promise<ReconcileResult>;

  listMembers(q: MembersQuery): Promise<Member[]>;
  importMembers(csv: string): Promise<ImportResult>;
  setMember(email: string, changes: MemberChanges): Promise<{ member: Member; created: boolean }>;
  adjustCredits(email: string, change: CreditChange): Promise<CreditBalance>;
  memberAccount(email: string, historyLimit?: number): Promise<MemberAccount>;
  heldBookings(): ReturnType<typeof heldBookings>;
  approve(uid: string, a: Approval): Promise<OperatorOutcome>;
  decline(uid: string, d: Declining): Promise<OperatorOutcome>;
  booking(uid: string): Promise<BookingView>;

  listRooms(q: { all: boolean }): Promise<RoomRecord[]>;
  putRoom(name: string, r: RoomSettingsInput): Promise<{ created: boolean; plan: PresentedReplan }>;
  retireRoom(name: string): Promise<{ plan: PresentedReplan }>;
  blockRoom(room: string, b: RoomBlocking): Promise<{ blockId: number; plan: PresentedReplan; preview?: true }>;
  unblockRoom(blockId: number, by?: string): Promise<{ plan: PresentedReplan }>;
  /** New times or reason for a block; what it displaces moves, what it frees is given out. */
  changeBlock(blockId: number, b: BlockChange): Promise<{ blockId: number; plan: PresentedReplan; preview?: true }>;
  markCleaned(room: string, by?: string): Promise<{ shortened: string[] }>;
  moveBooking(uid: string, m: RoomMove): Promise<{ room: string; location: string }>;
  /** Every room for a booking, fitting ones first, each with why it fits or not in words. */
  roomOptions(uid: string): Promise<PresentedRoomOption[]>;
  replan(): Promise<{ plan: PresentedReplan }>;

  /** Utilisation and the rest per room, doctor and period (insights/insights-report.ts). */
  insights(q: InsightsQuery): Promise<InsightsReport>;
  /** A past period replayed with other rooms, beside what happened; changes nothing. */
  whatIf(q: WhatIfQuery, onProgress?: (done: number, total: number) => void): Promise<WhatIfResult>;
  listCalendarFeeds(q: { all: boolean }): Promise<PresentedFeed[]>;
  /** A room's or doctor's iCalendar feed; the answer's path holds its secret, shown this once. */
  createCalendarFeed(f: NewFeed): Promise<{ feed: PresentedFeed; path: string }>;
  revokeCalendarFeed(id: number): Promise<PresentedFeed>;

  slots(q: SlotsQuery): Promise<Record<string, { start: string }[]>>;
  /** A booking made in Cal.com once per key (a retried key answers the first outcome). */
  book(key: string, request: CheckoutRequest): Promise<unknown>;
}

export const INBOX_STATES = ['pending', 'running', 'done', 'ignored', 'unprocessable', 'dead'] as const;
export const JOB_STATES = ['pending', 'running', 'done', 'dead', 'superseded'] as const;

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const eventsQuery = z
  .object({ state: z.enum(INBOX_STATES).optional(), bookingUid: z.string().optional(), limit: limit(1000, 50) })
  .strict();
export const jobsQuery = z
  .object({ state: z.enum(JOB_STATES).optional(), bookingUid: z.string().optional(), limit: limit(1000, 50) })
  .strict();
export type WorkQuery = { state?: string | undefined; bookingUid?: string | undefined; limit: number };

export const membersQuery = z.object({ search: z.string().optional(), limit: limit(1000, 100) }).strict();
export type MembersQuery = z.infer<typeof membersQuery>;

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD');
const dateOrTime = z
  .string()
  .refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) || !Number.isNaN(Date.parse(v)), 'a date (YYYY-MM-DD) or an ISO time');
export const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO time');
const by = z.string().max(100).optional();

export const memberChanges = z
  .object({ name: z.string().min(1).optional(), active: z.boolean().optional(), membershipUntil: day.nullable().optional() })
  .strict();
export type MemberChanges = z.infer<typeof memberChanges>;

export const creditChange = z
  .object({
    amount: z
      .number()
      .int()
      .refine((n) => n !== 0, 'a whole number other than 0'),
    reason: z.string().max(500).optional(),
    expires: dateOrTime.optional(),
  })
  .strict();
export type CreditChange = z.infer<typeof creditChange>;

export const approval = z.object({ charge: z.boolean().optional(), note: z.string().max(500).optional(), by }).strict();
export type Approval = z.infer<typeof approval>;
export const declining = z.object({ reason: z.string().min(1).max(500), note: z.string().max(500).optional(), by }).strict();
export type Declining = z.infer<typeof declining>;

export const roomBlocking = z
  .object({
    reason: z.string().trim().min(1).max(200),
    from: isoTime.optional(),
    until: isoTime,
    by,
    preview: z.boolean().optional().describe('true: answer what the block would move, and save nothing'),
  })
  .strict()
  .refine((b) => !b.from || Date.parse(b.from) < Date.parse(b.until), { message: 'until: must be after from', path: ['until'] });
export type RoomBlocking = z.infer<typeof roomBlocking>;
export const roomSettingsInput = z
  .object({
    floor: z.number().int().default(0),
    building: z.string().default(''),
    equipment: z.array(z.string().trim().min(1)).default([]),
    cleaningMinutes: z.number().int().min(0).max(1440).default(0),
    openHours: z
      .string()
      .regex(/^\d\d:\d\d-\d\d:\d\d$/, 'like "08:00-18:00"')
      .refine((v) => v.slice(0, 5) < v.slice(6), 'from must be before to')
      .optional(),
    capacity: z.number().int().positive().optional().describe('how many people it holds; absent: not limited'),
  })
  .strict();
export type RoomSettingsInput = z.infer<typeof roomSettingsInput>;
export const blockChange = z
  .object({
    reason: z.string().trim().min(1).max(200),
    from: isoTime,
    until: isoTime,
    by,
    preview: z.boolean().optional().describe('true: answer what the change would move, and save nothing'),
  })
  .strict()
  .refine((b) => Date.parse(b.from) < Date.parse(b.until), { message: 'until: must be after from', path: ['until'] });
export type BlockChange = z.infer<typeof blockChange>;
export const roomMove = z.object({ room: z.string().min(1), by }).strict();
export type RoomMove = z.infer<typeof roomMove>;

export const slotsQuery = z
  .object({ eventTypeId: z.coerce.number().int().positive(), from: isoTime, to: isoTime, timeZone: z.string().optional() })
  .strict()
  .refine((q) => Date.parse(q.to) >= Date.parse(q.from), { message: 'must not be before from', path: ['to'] });
export type SlotsQuery = z.infer<typeof slotsQuery>;

export { checkoutSchema };

export interface MemberAccount {
  member: Member;
  balance: CreditBalance;
  history: LedgerEntry[];
}
export interface OperatorOutcome {
  outcome: string;
  creditsHeld: number;
}
