import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { knownTriggers } from '../domain/booking-event.ts';
import { sandboxBookingRoutes } from './sandbox-bookings.ts';
import { calError, validationError } from './sandbox-errors.ts';
import { SandboxState, type SbWebhook, type Seed } from './sandbox-state.ts';
import { SandboxThrottle } from './sandbox-throttle.ts';
import { WebhookSender, type DeliveryFaults } from './webhook-sender.ts';

export interface ApiFaults {
  /** Answer every API call with this status (500, 502, 503 or 429) until `untilMs` (epoch ms). */
  failStatus?: number;
  failUntilMs?: number;
  /** Added to every API answer, before the request is handled. */
  latencyMs?: number;
  /** Added after the request is handled, before the answer leaves: the change is made, the caller may give up waiting. */
  answerDelayMs?: number;
}

export interface SandboxOptions {
  seed: Seed;
  now?: () => Date;
  random?: () => number;
  requestsPerMinute?: number;
  /** Unauthenticated callers are limited per IP (120 in Cal.com); tests that play many patients raise it. */
  anonymousRequestsPerMinute?: number;
  locationRequestsPerMinute?: number;
}

// Triggers that can be subscribed to (CONTRACT §1.1): the 19 of [M] plus the later hosted ones.
const SUBSCRIBABLE = new Set(knownTriggers.filter((t) => t !== 'PING'));

const webhookInput = z.object({
  subscriberUrl: z.string().url(),
  triggers: z.array(z.string()).min(1),
  active: z.boolean(),
  payloadTemplate: z.string().nullish(),
  secret: z.string().optional(),
  version: z.literal('2021-10-20').optional(),
});

/**
 * A local stand-in for Cal.com: the API v2 subset Usher uses, with Cal.com's statuses, envelopes,
 * error shapes, version header rules and rate limits (CONTRACT §4), and webhooks delivered as
 * Cal.com delivers them (§1–§3). Faults can be injected to test what Usher does when Cal.com
 * misbehaves.
 */
export class Sandbox {
  readonly state: SandboxState;
  readonly sender: WebhookSender;
  apiFaults: ApiFaults = {};
  readonly app: FastifyInstance;
  url = '';
  readonly #now: () => Date;
  readonly #throttle: SandboxThrottle;
  readonly #anonymousThrottle: SandboxThrottle;
  readonly #locationThrottle: SandboxThrottle;
  #ticker: NodeJS.Timeout | undefined;

  constructor(options: SandboxOptions) {
    this.#now = options.now ?? (() => new Date());
    this.state = new SandboxState(options.seed);
    this.sender = new WebhookSender(this.state, this.#now, options.random);
    this.#throttle = new SandboxThrottle(options.requestsPerMinute ?? 120);
    this.#anonymousThrottle = new SandboxThrottle(options.anonymousRequestsPerMinute ?? options.requestsPerMinute ?? 120);
    this.#locationThrottle = new SandboxThrottle(options.locationRequestsPerMinute ?? 5);
    this.app = Fastify({ logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true });
    this.#routes();
  }

  callerHost(req: FastifyRequest): number | undefined {
    const header = req.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    return key ? this.state.apiKeys.get(key) : undefined;
  }

  /** Sends MEETING_STARTED / MEETING_ENDED for accepted bookings whose times have come (§3.4). */
  tick(): void {
    const now = this.#now();
    for (const b of this.state.bookings.values()) {
      if (b.status !== 'accepted') continue;
      if (!b.meetingStartedSent && b.start <= now) {
        b.meetingStartedSent = true;
        this.sender.meeting('MEETING_STARTED', b);
      }
      if (!b.meetingEndedSent && b.end <= now) {
        b.meetingEndedSent = true;
        this.sender.meeting('MEETING_ENDED', b);
      }
    }
  }

  async listen(port: number, host = '127.0.0.1', tickMs = 1000): Promise<string> {
    const address = await this.app.listen({ port, host });
    this.url = address.replace('[::1]', '127.0.0.1');
    if (tickMs > 0) this.#ticker = setInterval(() => this.tick(), tickMs);
    return this.url;
  }

  async close(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    await this.sender.settle();
    await this.app.close();
  }

  #routes(): void {
    const app = this.app;
    const now = () => this.#now();

    app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith('/_sandbox')) return;
      const f = this.apiFaults;
      if (f.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
      const key = req.headers.authorization;
      const throttled = key ? this.#throttle.take(key, now().getTime()) : this.#anonymousThrottle.take(req.ip, now().getTime());
      reply.headers(throttled.headers);
      if (!throttled.allowed) {
        return calError(reply, req, 429, 'ThrottlerException', 'CustomThrottlerGuard - Too many requests. Please try again later.');
      }
      if (f.failStatus && (f.failUntilMs === undefined || now().getTime() < f.failUntilMs)) {
        return calError(
          reply,
          req,
          f.failStatus,
          f.failStatus === 429 ? 'ThrottlerException' : 'InternalServerErrorException',
          'sandbox: injected failure',
        );
      }
    });

    app.addHook('onSend', async (req, reply) => {
      // CONTRACT §4.1: every answer carries an X-Request-Id, which Cal.com's support asks for.
      if (!req.url.startsWith('/_sandbox')) reply.header('x-request-id', req.id);
      const delay = this.apiFaults.answerDelayMs;
      if (delay && !req.url.startsWith('/_sandbox')) await new Promise((r) => setTimeout(r, delay));
    });

    const locationThrottle = (req: FastifyRequest, reply: FastifyReply): boolean => {
      const taken = this.#locationThrottle.take(req.headers.authorization ?? req.ip, now().getTime());
      if (taken.allowed) return true;
      reply.headers(taken.headers);
      void calError(reply, req, 429, 'ThrottlerException', 'CustomThrottlerGuard - Too many requests. Please try again later.');
      return false;
    };

    void app.register(sandboxBookingRoutes, {
      state: this.state,
      sender: this.sender,
      now,
      callerHost: (r) => this.callerHost(r),
      locationThrottle,
    });

    /**
     * CONTRACT §4.1: versions are per endpoint family, and a missing or unknown one silently selects
     * the legacy 2024-04-15 controllers, whose shapes differ. The sandbox emulates only the current
     * ones, so it says so instead of answering in a shape Cal.com would not use.
     */
    const requireVersion = (req: FastifyRequest, reply: FastifyReply, version: string): boolean => {
      if (req.headers['cal-api-version'] === version) return true;
      void calError(
        reply,
        req,
        400,
        'BadRequestException',
        `sandbox: ${req.url.split('?')[0]} needs cal-api-version ${version}; Cal.com would silently use its legacy 2024-04-15 controllers here`,
      );
      return false;
    };

    app.get('/v2/slots', async (req, reply) => {
      if (!requireVersion(req, reply, '2024-09-04')) return;
      const q = req.query as Record<string, string | undefined>;
      const eventType = this.state.eventTypes.get(Number(q.eventTypeId));
      if (!eventType || !q.start || !q.end)
        return calError(reply, req, 400, 'BadRequestException', 'eventTypeId, start and end are required');
      const from = new Date(q.start.length === 10 ? `${q.start}T00:00:00Z` : q.start);
      const to = new Date(q.end.length === 10 ? `${q.end}T23:59:59Z` : q.end);
      const data: Record<string, { start: string; attendeesCount?: number; bookingUid?: string }[]> = {};
      const step = eventType.lengthInMinutes * 60_000;
      for (
        let day = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()));
        day <= to;
        day = new Date(day.getTime() + 86_400_000)
      ) {
        // Working hours 09:00–17:00 UTC in the sandbox.
        for (let t = day.getTime() + 9 * 3_600_000; t + step <= day.getTime() + 17 * 3_600_000; t += step) {
          const start = new Date(t);
          if (start < from || start > to || start < now()) continue;
          const day = start.toISOString().slice(0, 10);
          // CONTRACT §4.2 "Slots": a class with a seat left is offered with its attendeesCount and bookingUid.
          const klass = eventType.seatsPerTimeSlot ? this.state.seatedBookingAt(eventType.id, start) : undefined;
          if (klass?.seats) {
            if (klass.seats.length < eventType.seatsPerTimeSlot!)
              data[day] = [...(data[day] ?? []), { start: start.toISOString(), attendeesCount: klass.seats.length, bookingUid: klass.uid }];
            continue;
          }
          // Team events: round robin needs one host free, collective every host.
          const team = eventType.teamHostIds ?? [eventType.hostId];
          const free = team.filter((h) => !this.state.hostBusy(h, start, new Date(t + step))).length;
          if (eventType.schedulingType === 'ROUND_ROBIN' ? free === 0 : free < team.length) continue;
          data[day] = [...(data[day] ?? []), { start: start.toISOString() }];
        }
      }
      return { status: 'success', data };
    });

    // openapi-v2.json GetMeOutput (CONTRACT has no section on /v2/me): who the key belongs to, and its
    // organisation (every host's, when the seed has one; the role in it is not said).
    app.get('/v2/me', async (req, reply) => {
      const host = this.callerHost(req);
      if (host === undefined) return calError(reply, req, 401, 'UnauthorizedException', 'Invalid Access Token.');
      const h = this.state.hosts.get(host)!;
      const org = this.state.orgOf(host) ?? null;
      return {
        status: 'success',
        data: {
          id: h.id,
          username: h.username,
          email: h.email,
          name: h.name,
          avatarUrl: null,
          bio: null,
          timeFormat: 24,
          defaultScheduleId: null,
          weekStart: 'Monday',
          timeZone: h.timeZone,
          organizationId: org,
          ...(org ? { organization: { isPlatform: false, id: org } } : {}),
        },
      };
    });

    // CONTRACT §4.2 "Event types": with a key and no username, the key owner's own event types.
    app.get('/v2/event-types', async (req, reply) => {
      if (!requireVersion(req, reply, '2024-06-14')) return;
      return eventTypesOutput(req);
    });
    const eventTypesOutput = (req: FastifyRequest) => ({
      status: 'success',
      data: [...this.state.eventTypes.values()]
        .filter((e) => {
          const host = this.callerHost(req);
          const username = (req.query as { username?: string }).username;
          if (username) return this.state.hosts.get(e.hostId)?.username === username;
          return host === undefined || e.hostId === host;
        })
        .map((e) => ({
          id: e.id,
          lengthInMinutes: e.lengthInMinutes,
          title: e.title,
          slug: e.slug,
          description: '',
          locations: [{ type: 'address', address: 'The clinic', public: true }],
          bookingFields: [],
          price: 0,
          currency: 'usd',
          hidden: false,
          ...(e.requiresConfirmation
            ? {
                confirmationPolicy: {
                  type: 'always',
                  noticeThreshold: { unit: 'minutes', count: 0 },
                  blockUnconfirmedBookingsInBooker: false,
                },
              }
            : {}),
          bookingUrl: `https://cal.com/${this.state.hosts.get(e.hostId)?.username}/${e.slug}`,
          users: [this.state.hosts.get(e.hostId)?.username],
        })),
    });

    const presentWebhook = (
      w: { id: string; subscriberUrl: string; triggers: string[]; active: boolean; payloadTemplate: string | null; secret: string | null },
      userId: number,
    ) => ({
      id: w.id,
      userId,
      subscriberUrl: w.subscriberUrl,
      triggers: w.triggers,
      active: w.active,
      payloadTemplate: w.payloadTemplate,
      // CONTRACT §4.2: the secret comes back in clear.
      secret: w.secret,
    });

    type Owner = SbWebhook['owner'];
    const sameOwner = (a: Owner, b: Owner) =>
      'userId' in a ? 'userId' in b && a.userId === b.userId : 'orgId' in b && a.orgId === b.orgId;
    /**
     * CONTRACT §4.2 "Webhooks management": the same routes for a user's subscriptions (`/v2/webhooks`)
     * and an organisation's (`/v2/organizations/{orgId}/webhooks`, its admins only); each sees its own.
     */
    const webhookRoutes = (
      base: string,
      ownerOf: (req: FastifyRequest, reply: FastifyReply) => { owner: Owner; host: number } | undefined,
    ) => {
      app.post(base, async (req, reply) => {
        const caller = ownerOf(req, reply);
        if (!caller) return;
        const parsed = webhookInput.safeParse(req.body);
        if (!parsed.success) return validationError(reply, req, parsed.error.issues);
        const bad = parsed.data.triggers.filter((t) => !SUBSCRIBABLE.has(t));
        if (bad.length)
          return calError(
            reply,
            req,
            400,
            'BadRequestException',
            `each value in triggers must be one of the following values; got ${bad.join(', ')}`,
          );
        if (
          [...this.state.webhooks.values()].some((w) => sameOwner(w.owner, caller.owner) && w.subscriberUrl === parsed.data.subscriberUrl)
        ) {
          return calError(reply, req, 409, 'ConflictException', 'Webhook with this subscriber url already exists');
        }
        const w = this.state.addWebhook({
          owner: caller.owner,
          subscriberUrl: parsed.data.subscriberUrl,
          triggers: parsed.data.triggers,
          active: parsed.data.active,
          secret: parsed.data.secret ?? null,
          payloadTemplate: parsed.data.payloadTemplate ?? null,
        });
        return reply.code(201).send({ status: 'success', data: presentWebhook(w, caller.host) });
      });
      app.get(base, async (req, reply) => {
        const caller = ownerOf(req, reply);
        if (!caller) return;
        const mine = [...this.state.webhooks.values()].filter((w) => sameOwner(w.owner, caller.owner));
        return { status: 'success', data: mine.map((w) => presentWebhook(w, caller.host)) };
      });
      const oneWebhook = (req: FastifyRequest, reply: FastifyReply) => {
        const caller = ownerOf(req, reply);
        if (!caller) return undefined;
        const w = this.state.webhooks.get((req.params as { id: string }).id);
        if (!w || !sameOwner(w.owner, caller.owner)) return void calError(reply, req, 404, 'NotFoundException', 'Webhook not found');
        return { w, host: caller.host };
      };
      app.get(`${base}/:id`, async (req, reply) => {
        const found = oneWebhook(req, reply);
        if (found) return { status: 'success', data: presentWebhook(found.w, found.host) };
      });
      app.patch(`${base}/:id`, async (req, reply) => {
        const found = oneWebhook(req, reply);
        if (!found) return;
        const parsed = webhookInput.partial().safeParse(req.body);
        if (!parsed.success) return validationError(reply, req, parsed.error.issues);
        if (parsed.data.triggers?.some((t) => !SUBSCRIBABLE.has(t)))
          return calError(reply, req, 400, 'BadRequestException', 'invalid trigger');
        Object.assign(found.w, Object.fromEntries(Object.entries(parsed.data).filter(([k, v]) => v !== undefined && k !== 'version')));
        return { status: 'success', data: presentWebhook(found.w, found.host) };
      });
      app.delete(`${base}/:id`, async (req, reply) => {
        const found = oneWebhook(req, reply);
        if (!found) return;
        this.state.webhooks.delete(found.w.id);
        return { status: 'success', data: presentWebhook(found.w, found.host) };
      });
    };
    const authenticated = (req: FastifyRequest, reply: FastifyReply): number | undefined => {
      const host = this.callerHost(req);
      if (host === undefined) void calError(reply, req, 401, 'UnauthorizedException', 'Invalid Access Token.');
      return host;
    };
    webhookRoutes('/v2/webhooks', (req, reply) => {
      const host = authenticated(req, reply);
      return host === undefined ? undefined : { owner: { userId: host }, host };
    });
    /** An organisation's routes: its admins' keys only (CONTRACT §4.2: admins and owners act for it). */
    const orgAdmin = (req: FastifyRequest, reply: FastifyReply): { orgId: number; host: number } | undefined => {
      const host = authenticated(req, reply);
      if (host === undefined) return undefined;
      const orgId = Number((req.params as { orgId: string }).orgId);
      if (this.state.orgOf(host) !== orgId || !this.state.orgAdmins.has(host)) {
        void calError(reply, req, 403, 'ForbiddenException', 'You are not an admin or owner of this organization');
        return undefined;
      }
      return { orgId, host };
    };
    webhookRoutes('/v2/organizations/:orgId/webhooks', (req, reply) => {
      const admin = orgAdmin(req, reply);
      return admin ? { owner: { orgId: admin.orgId }, host: admin.host } : undefined;
    });

    // Control endpoint for fault injection and inspection (not part of Cal.com).
    app.get('/_sandbox/faults', async () => ({ delivery: this.sender.faults, api: this.apiFaults }));
    app.put('/_sandbox/faults', async (req) => {
      const body = z
        .object({
          delivery: z
            .object({ dropRate: z.number().min(0).max(1), duplicateRate: z.number().min(0).max(1), delayMs: z.number().min(0) })
            .partial()
            .optional(),
          api: z
            .object({
              failStatus: z.number().int().min(400).max(599).optional(),
              failForSeconds: z.number().positive().optional(),
              latencyMs: z.number().min(0).optional(),
              answerDelayMs: z.number().min(0).optional(),
            })
            .optional(),
        })
        .parse(req.body);
      if (body.delivery) this.sender.faults = { ...this.sender.faults, ...body.delivery } as DeliveryFaults;
      if (body.api) {
        this.apiFaults = {
          ...(body.api.failStatus ? { failStatus: body.api.failStatus } : {}),
          ...(body.api.failForSeconds ? { failUntilMs: now().getTime() + body.api.failForSeconds * 1000 } : {}),
          ...(body.api.latencyMs ? { latencyMs: body.api.latencyMs } : {}),
          ...(body.api.answerDelayMs ? { answerDelayMs: body.api.answerDelayMs } : {}),
        };
      }
      return { delivery: this.sender.faults, api: this.apiFaults };
    });
    app.get('/_sandbox/deliveries', async () => ({ data: this.sender.deliveries.slice(-500) }));
  }
}
