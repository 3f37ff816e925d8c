import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { UsherError } from '../errors.ts';
import { calApiError, readCalError, readRateLimitHeaders, type RateLimitInfo } from './api-error.ts';

/** CONTRACT §4.1: `cal-api-version` per endpoint family; a missing header silently selects old controllers. */
export const SLOTS_API_VERSION = '2024-09-04';
export const EVENT_TYPES_API_VERSION = '2024-06-14';

/** Which shared budgets a call spends: every call the key's, location updates also their own. */
export type Endpoint =
  | 'bookings.get'
  | 'bookings.list'
  | 'bookings.create'
  | 'bookings.confirm'
  | 'bookings.decline'
  | 'bookings.cancel'
  | 'bookings.reschedule'
  | 'bookings.location'
  | 'slots.list'
  | 'event-types.list'
  | 'me.get'
  | 'webhooks.list'
  | 'webhooks.create'
  | 'webhooks.update';

/** The rate gate every call passes: admission before, Cal.com's answer after. */
export interface RateGate {
  admit(endpoint: Endpoint): Promise<{ ok: true } | { ok: false; retryAt: Date }>;
  observe(endpoint: Endpoint, status: number | undefined, rateLimit: RateLimitInfo): Promise<void>;
}

export interface CallRecord {
  endpoint: Endpoint;
  status: number | undefined;
  durationMs: number;
}

export interface CalClientOptions {
  apiUrl: string;
  apiKey: string | undefined;
  bookingsApiVersion: string;
  /**
   * The Cal.com organisation whose bookings Usher looks after: its webhooks and booking list are
   * the organisation's (`/v2/organizations/{orgId}/…`), which cover every member; a user's cover only
   * the key owner's (CONTRACT §4.2 "Webhooks management").
   */
  organizationId?: number | undefined;
  timeoutMs: number;
  gate: RateGate;
  dispatcher?: Dispatcher;
  onCall?: (record: CallRecord) => void;
}

export const calMeSchema = z.looseObject({
  id: z.number(),
  username: z.string(),
  email: z.string(),
  timeZone: z.string().optional(),
  organizationId: z.number().nullish(),
});
export type CalMe = z.infer<typeof calMeSchema>;

export const calWebhookSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  subscriberUrl: z.string(),
  triggers: z.array(z.string()),
  active: z.boolean(),
  payloadTemplate: z.string().nullish(),
  secret: z.string().nullish(),
});
export type CalWebhook = z.infer<typeof calWebhookSchema>;
export interface WebhookInput {
  subscriberUrl: string;
  triggers: readonly string[];
  active: boolean;
  secret?: string;
  payloadTemplate?: string | null;
}

const bookingStatus = z.enum(['accepted', 'pending', 'cancelled', 'rejected']).or(z.string());
export const calBookingSchema = z.looseObject({
  id: z.number(),
  uid: z.string(),
  title: z.string().optional(),
  status: bookingStatus,
  start: z.string(),
  end: z.string(),
  duration: z.number().optional(),
  eventTypeId: z.number().nullish(),
  eventType: z.looseObject({ id: z.number(), slug: z.string().optional() }).nullish(),
  hosts: z.array(z.looseObject({ id: z.number().optional(), email: z.string().optional(), name: z.string().optional() })).default([]),
  // A seated booking's attendees each carry their seatUid (GetSeatedBookingOutput_2024_08_13).
  attendees: z
    .array(z.looseObject({ name: z.string().optional(), email: z.string().optional(), seatUid: z.string().optional() }))
    .default([]),
  seatsPerTimeSlot: z.number().int().positive().nullish(),
  location: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  cancellationReason: z.string().nullish(),
  cancelledByEmail: z.string().nullish(),
  rejectionReason: z.string().nullish(),
  rescheduledFromUid: z.string().nullish(),
  rescheduledToUid: z.string().nullish(),
  createdAt: z.string().optional(),
  updatedAt: z.string().nullish(),
});
export type CalBooking = z.infer<typeof calBookingSchema>;

const pagination = z.looseObject({
  totalItems: z.number(),
  remainingItems: z.number(),
  returnedItems: z.number(),
  itemsPerPage: z.number(),
  currentPage: z.number(),
  totalPages: z.number(),
  hasNextPage: z.boolean(),
  hasPreviousPage: z.boolean(),
});

export interface ListBookingsQuery {
  status?: ('upcoming' | 'recurring' | 'past' | 'cancelled' | 'unconfirmed')[];
  afterUpdatedAt?: Date;
  afterStart?: Date;
  beforeEnd?: Date;
  attendeeEmail?: string;
  eventTypeId?: number;
  sortUpdatedAt?: 'asc' | 'desc';
  take?: number;
  skip?: number;
}

export interface CreateBookingInput {
  start: Date;
  eventTypeId: number;
  attendee: { name: string; email?: string; timeZone: string; language?: string; phoneNumber?: string };
  metadata?: Record<string, string>;
  guests?: string[];
  lengthInMinutes?: number;
  bookingFieldsResponses?: Record<string, unknown>;
}

export class CalClient {
  readonly #o: CalClientOptions;

  constructor(options: CalClientOptions) {
    this.#o = options;
  }

  async getBooking(uid: string): Promise<CalBooking> {
    const data = await this.#call('bookings.get', 'GET', `/v2/bookings/${encodeURIComponent(uid)}`, this.#bookingsVersion());
    return calBookingSchema.parse(Array.isArray(data) ? data[0] : data);
  }

  async listBookings(query: ListBookingsQuery): Promise<{ bookings: CalBooking[]; pagination: z.infer<typeof pagination> }> {
    const params = new URLSearchParams();
    if (query.status?.length) params.set('status', query.status.join(','));
    if (query.afterUpdatedAt) params.set('afterUpdatedAt', query.afterUpdatedAt.toISOString());
    if (query.afterStart) params.set('afterStart', query.afterStart.toISOString());
    if (query.beforeEnd) params.set('beforeEnd', query.beforeEnd.toISOString());
    if (query.attendeeEmail) params.set('attendeeEmail', query.attendeeEmail);
    if (query.eventTypeId !== undefined) params.set('eventTypeId', String(query.eventTypeId));
    if (query.sortUpdatedAt) params.set('sortUpdatedAt', query.sortUpdatedAt);
    // CONTRACT §4.2: take is at most 250.
    params.set('take', String(Math.min(query.take ?? 100, 250)));
    params.set('skip', String(query.skip ?? 0));
    const body = await this.#call('bookings.list', 'GET', `${this.#scope()}/bookings?${params}`, this.#bookingsVersion(), undefined, true);
    const parsed = z.looseObject({ data: z.array(calBookingSchema), pagination }).parse(body);
    return { bookings: parsed.data, pagination: parsed.pagination };
  }

  async createBooking(input: CreateBookingInput): Promise<CalBooking> {
    const data = await this.#call('bookings.create', 'POST', '/v2/bookings', this.#bookingsVersion(), {
      // CONTRACT §4.2: start is ISO in UTC.
      start: input.start.toISOString(),
      eventTypeId: input.eventTypeId,
      attendee: input.attendee,
      ...(input.metadata ? { metadata: input.metadata } : {}),
      ...(input.lengthInMinutes ? { lengthInMinutes: input.lengthInMinutes } : {}),
      ...(input.bookingFieldsResponses ? { bookingFieldsResponses: input.bookingFieldsResponses } : {}),
      ...(input.guests ? { guests: input.guests } : {}),
    });
    return calBookingSchema.parse(data);
  }

  async confirmBooking(uid: string): Promise<CalBooking> {
    const data = await this.#call('bookings.confirm', 'POST', `/v2/bookings/${encodeURIComponent(uid)}/confirm`, this.#bookingsVersion());
    return calBookingSchema.parse(data);
  }

  async declineBooking(uid: string, reason: string): Promise<CalBooking> {
    const data = await this.#call('bookings.decline', 'POST', `/v2/bookings/${encodeURIComponent(uid)}/decline`, this.#bookingsVersion(), {
      reason,
    });
    return calBookingSchema.parse(data);
  }

  /** CONTRACT §4.2: cancelling as the host without a reason is refused, so the reason is required here. */
  async cancelBooking(uid: string, cancellationReason: string): Promise<CalBooking> {
    const data = await this.#call('bookings.cancel', 'POST', `/v2/bookings/${encodeURIComponent(uid)}/cancel`, this.#bookingsVersion(), {
      cancellationReason,
    });
    return calBookingSchema.parse(data);
  }

  async rescheduleBooking(uid: string, start: Date, reschedulingReason?: string): Promise<CalBooking> {
    const data = await this.#call(
      'bookings.reschedule',
      'POST',
      `/v2/bookings/${encodeURIComponent(uid)}/reschedule`,
      this.#bookingsVersion(),
      {
        start: start.toISOString(),
        ...(reschedulingReason ? { reschedulingReason } : {}),
      },
    );
    return calBookingSchema.parse(data);
  }

  /** CONTRACT §4.2: `{location:{type:"address", address}}`; without cal-api-version this route is a 404. */
  async updateLocation(uid: string, address: string): Promise<CalBooking> {
    const data = await this.#call(
      'bookings.location',
      'PATCH',
      `/v2/bookings/${encodeURIComponent(uid)}/location`,
      this.#bookingsVersion(),
      {
        location: { type: 'address', address },
      },
    );
    return calBookingSchema.parse(data);
  }

  async listSlots(query: {
    eventTypeId: number;
    start: Date | string;
    end: Date | string;
    timeZone?: string;
  }): Promise<Record<string, { start: string; end?: string }[]>> {
    const params = new URLSearchParams({
      eventTypeId: String(query.eventTypeId),
      start: typeof query.start === 'string' ? query.start : query.start.toISOString(),
      end: typeof query.end === 'string' ? query.end : query.end.toISOString(),
      ...(query.timeZone ? { timeZone: query.timeZone } : {}),
    });
    const data = await this.#call('slots.list', 'GET', `/v2/slots?${params}`, SLOTS_API_VERSION);
    return z.record(z.string(), z.array(z.looseObject({ start: z.string(), end: z.string().optional() }))).parse(data);
  }

  async listEventTypes(query: { username?: string } = {}): Promise<Record<string, unknown>[]> {
    const params = new URLSearchParams(query.username ? { username: query.username } : {});
    const data = await this.#call('event-types.list', 'GET', `/v2/event-types?${params}`, EVENT_TYPES_API_VERSION);
    return z.array(z.record(z.string(), z.unknown())).parse(data);
  }

  /** Who the key belongs to (openapi-v2.json GetMeOutput; CONTRACT has no section on /v2/me). */
  async getMe(): Promise<CalMe> {
    return calMeSchema.parse(await this.#call('me.get', 'GET', '/v2/me', this.#bookingsVersion()));
  }

  /** The webhook subscriptions of the key owner, or of the organisation (CONTRACT §4.2; ids are UUID strings). */
  async listWebhooks(): Promise<CalWebhook[]> {
    return z
      .array(calWebhookSchema)
      .parse(await this.#call('webhooks.list', 'GET', `${this.#scope()}/webhooks?take=250`, this.#bookingsVersion()));
  }

  async createWebhook(w: WebhookInput): Promise<CalWebhook> {
    return calWebhookSchema.parse(await this.#call('webhooks.create', 'POST', `${this.#scope()}/webhooks`, this.#bookingsVersion(), w));
  }

  async updateWebhook(id: string, w: Partial<WebhookInput>): Promise<CalWebhook> {
    return calWebhookSchema.parse(
      await this.#call('webhooks.update', 'PATCH', `${this.#scope()}/webhooks/${encodeURIComponent(id)}`, this.#bookingsVersion(), w),
    );
  }

  /** Where lists and subscriptions live: the organisation's, when Usher looks after one. */
  #scope(): string {
    return this.#o.organizationId !== undefined ? `/v2/organizations/${this.#o.organizationId}` : '/v2';
  }

  #bookingsVersion(): string {
    return this.#o.bookingsApiVersion;
  }

  async #call(
    endpoint: Endpoint,
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    apiVersion: string,
    body?: unknown,
    whole = false,
  ): Promise<unknown> {
    if (!this.#o.apiKey) throw new UsherError('CAL_NOT_CONFIGURED', 'CAL_API_KEY is not set: Usher cannot call Cal.com');
    const admission = await this.#o.gate.admit(endpoint);
    if (!admission.ok) {
      throw new UsherError('RATE_LIMITED', `Cal.com budget for ${endpoint} is spent until ${admission.retryAt.toISOString()}`, {
        detail: { retryAt: admission.retryAt },
      });
    }
    const started = performance.now();
    let status: number | undefined;
    let rateLimit: RateLimitInfo = {};
    try {
      const response = await request(this.#o.apiUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.#o.apiKey}`,
          'cal-api-version': apiVersion,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: this.#o.timeoutMs,
        bodyTimeout: this.#o.timeoutMs,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
        ...(this.#o.dispatcher ? { dispatcher: this.#o.dispatcher } : {}),
      });
      status = response.statusCode;
      rateLimit = readRateLimitHeaders(response.headers);
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // a proxy's HTML error page: keep the text for the error
      }
      if (status >= 200 && status < 300) {
        const envelope = parsed as { status?: unknown; data?: unknown } | undefined;
        if (whole) return parsed;
        return envelope && typeof envelope === 'object' && 'data' in envelope ? envelope.data : parsed;
      }
      const requestId = response.headers['x-request-id'];
      throw calApiError({
        status,
        ...readCalError(parsed),
        ...(typeof requestId === 'string' ? { requestId } : {}),
        body: parsed,
        endpoint,
        rateLimit,
      });
    } catch (error) {
      if (error instanceof UsherError) throw error;
      throw calApiError(
        { status: undefined, calCode: undefined, calMessage: (error as Error).message, body: undefined, endpoint, rateLimit },
        error,
      );
    } finally {
      this.#o.onCall?.({ endpoint, status, durationMs: performance.now() - started });
      await this.#o.gate.observe(endpoint, status, rateLimit);
    }
  }
}
