import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { newUid } from './payloads.ts';

/** The sandbox's world, as Cal.com's database would hold it (statuses lowercase, as API v2 shows them). */
export interface SbHost {
  id: number;
  name: string;
  email: string;
  username: string;
  timeZone: string;
}

export interface SbEventType {
  id: number;
  slug: string;
  title: string;
  lengthInMinutes: number;
  requiresConfirmation: boolean;
  hostId: number;
  /** What its bookings' `location` says (an address in person, `integrations:daily` for Cal Video). */
  location: string;
  /** A seated event (a class): one booking per slot, one attendee per seat. */
  seatsPerTimeSlot?: number;
  /** A recurring event type's rule (Cal.com's `recurringEvent`; freq 2 = weekly, as RRule numbers it). */
  recurringEvent?: { freq: number; count: number; interval: number };
  /**
   * A team event: round robin books one free host of `teamHostIds` (the first, in order); collective
   * books them all (the first organises, the others come as `team.members`).
   */
  schedulingType?: 'ROUND_ROBIN' | 'COLLECTIVE';
  teamHostIds?: number[];
}

export type SbStatus = 'accepted' | 'pending' | 'cancelled' | 'rejected';

export interface SbBooking {
  id: number;
  uid: string;
  eventTypeId: number;
  hostId: number;
  attendee: { name: string; email: string; timeZone: string; phoneNumber?: string };
  start: Date;
  end: Date;
  status: SbStatus;
  location: string | null;
  metadata: Record<string, string>;
  cancellationReason?: string;
  rejectionReason?: string;
  reschedulingReason?: string;
  rescheduledFromUid?: string;
  rescheduledToUid?: string;
  createdAt: Date;
  updatedAt: Date;
  meetingStartedSent?: boolean;
  meetingEndedSent?: boolean;
  /** A collective booking's other hosts, busy for it too. */
  coHostIds?: number[];
  /** The series an occurrence of a recurring booking belongs to (Cal.com's `recurringEventId`). */
  recurringEventId?: string;
  /** A seated booking's seats, in the order taken (`attendee` is the first). */
  seats?: { uid: string; attendee: { name: string; email: string; timeZone: string } }[];
}

export interface SbWebhook {
  id: string;
  /** A user's webhook hears that user's bookings; an organisation's, every member's (CONTRACT §4.2). */
  owner: { userId: number } | { orgId: number };
  subscriberUrl: string;
  triggers: string[];
  active: boolean;
  secret: string | null;
  payloadTemplate: string | null;
}

/** The sandbox's one organisation, when the seed names admins: every host is a member. */
export const SANDBOX_ORG_ID = 1;

export const seedSchema = z.object({
  hosts: z
    .array(
      z.object({
        id: z.number().int(),
        name: z.string(),
        email: z.string(),
        username: z.string(),
        timeZone: z.string().default('Europe/London'),
      }),
    )
    .min(1),
  eventTypes: z
    .array(
      z.object({
        id: z.number().int(),
        slug: z.string(),
        title: z.string(),
        lengthInMinutes: z.number().int().positive(),
        requiresConfirmation: z.boolean().default(false),
        hostId: z.number().int(),
        /**
         * The booking's `location` as Cal.com stores it (CONTRACT §3.2): an address for an in-person
         * type, `integrations:daily` (Cal Video, Cal.com's default) for a video one.
         */
        location: z.string().default('integrations:daily'),
        seatsPerTimeSlot: z.number().int().positive().optional(),
        recurringEvent: z
          .object({ freq: z.number().int(), count: z.number().int().positive(), interval: z.number().int().positive() })
          .optional(),
        schedulingType: z.enum(['ROUND_ROBIN', 'COLLECTIVE']).optional(),
        teamHostIds: z.array(z.number().int()).min(2).optional(),
      }),
    )
    .min(1),
  /** API key → the host it belongs to. */
  apiKeys: z.record(z.string(), z.number().int()).default({}),
  /** Hosts who are organisation admins: their keys manage every booking (CONTRACT §4.2). */
  orgAdmins: z.array(z.number().int()).default([]),
});
export type Seed = z.infer<typeof seedSchema>;

export class SandboxState {
  readonly hosts = new Map<number, SbHost>();
  readonly eventTypes = new Map<number, SbEventType>();
  readonly bookings = new Map<string, SbBooking>();
  readonly webhooks = new Map<string, SbWebhook>();
  readonly apiKeys = new Map<string, number>();
  readonly orgAdmins: ReadonlySet<number>;
  #nextBookingId = 1000;

  constructor(seed: Seed) {
    for (const h of seed.hosts) this.hosts.set(h.id, h);
    for (const e of seed.eventTypes) {
      if (!this.hosts.has(e.hostId)) throw new Error(`sandbox seed: event type ${e.id} names unknown host ${e.hostId}`);
      this.eventTypes.set(e.id, e);
    }
    for (const [key, hostId] of Object.entries(seed.apiKeys)) this.apiKeys.set(key, hostId);
    this.orgAdmins = new Set(seed.orgAdmins);
  }

  newBooking(fields: Omit<SbBooking, 'id' | 'uid' | 'createdAt' | 'updatedAt'>, now: Date): SbBooking {
    const booking: SbBooking = { ...fields, id: this.#nextBookingId++, uid: newUid(), createdAt: now, updatedAt: now };
    this.bookings.set(booking.uid, booking);
    return booking;
  }

  /** The accepted booking of a seated event type at a start, which a new seat joins (Cal.com's handleSeats). */
  seatedBookingAt(eventTypeId: number, start: Date): SbBooking | undefined {
    for (const b of this.bookings.values()) {
      if (b.eventTypeId === eventTypeId && b.status === 'accepted' && b.start.getTime() === start.getTime() && b.seats) return b;
    }
    return undefined;
  }

  /** A host is busy when an accepted or pending booking of theirs overlaps [start, end). */
  hostBusy(hostId: number, start: Date, end: Date, exceptUid?: string): boolean {
    for (const b of this.bookings.values()) {
      if ((b.hostId !== hostId && !b.coHostIds?.includes(hostId)) || b.uid === exceptUid) continue;
      if (b.status !== 'accepted' && b.status !== 'pending') continue;
      if (b.start < end && start < b.end) return true;
    }
    return false;
  }

  /** The organisation a host belongs to (every host, when the seed has an organisation). */
  orgOf(hostId: number): number | undefined {
    return this.orgAdmins.size > 0 && this.hosts.has(hostId) ? SANDBOX_ORG_ID : undefined;
  }

  /** The subscriptions that hear about a booking of this host: the host's own and its organisation's. */
  webhooksFor(hostId: number | undefined): SbWebhook[] {
    return [...this.webhooks.values()].filter(
      (w) => hostId === undefined || ('userId' in w.owner ? w.owner.userId === hostId : this.orgOf(hostId) === w.owner.orgId),
    );
  }

  addWebhook(w: Omit<SbWebhook, 'id'>): SbWebhook {
    const webhook = { ...w, id: randomUUID() };
    this.webhooks.set(webhook.id, webhook);
    return webhook;
  }

  toJSON() {
    return { bookings: [...this.bookings.values()], webhooks: [...this.webhooks.values()] };
  }

  /** Restores bookings and webhook subscriptions saved by toJSON() (the `--state` file). */
  restore(saved: {
    bookings?: (Omit<SbBooking, 'start' | 'end' | 'createdAt' | 'updatedAt'> &
      Record<'start' | 'end' | 'createdAt' | 'updatedAt', string>)[];
    webhooks?: SbWebhook[];
  }): void {
    for (const b of saved.bookings ?? []) {
      this.bookings.set(b.uid, {
        ...b,
        start: new Date(b.start),
        end: new Date(b.end),
        createdAt: new Date(b.createdAt),
        updatedAt: new Date(b.updatedAt),
      });
      this.#nextBookingId = Math.max(this.#nextBookingId, b.id + 1);
    }
    // Saved before webhooks had owners: the organisation's, as the demo subscribes.
    for (const w of saved.webhooks ?? []) this.webhooks.set(w.id, { ...w, owner: w.owner ?? { orgId: SANDBOX_ORG_ID } });
  }
}
