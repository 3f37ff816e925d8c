import { request } from 'undici';
import { signBody } from '../cal/verify-signature.ts';
import { bookingPayload, envelopeBody, meetingBody, type PayloadBooking } from './payloads.ts';
import type { SandboxState, SbBooking } from './sandbox-state.ts';

export interface DeliveryFaults {
  /** Share of deliveries silently not sent (0..1). */
  dropRate: number;
  /** Share of deliveries sent twice (as a second matching subscription would). */
  duplicateRate: number;
  /** Extra delay before a delivery, random in [0, delayMs): also reorders them. */
  delayMs: number;
}

export interface Delivery {
  trigger: string;
  uid: string | undefined;
  url: string;
  status: number | 'dropped' | 'error';
  at: Date;
}

const SIGNATURE_WITHOUT_SECRET = 'no-secret-provided';

/**
 * Delivers webhooks the way Cal.com does (CONTRACT §2): one POST per matching subscription, the
 * compact body, `X-Cal-Signature-256` over exactly those bytes (or `no-secret-provided`), one
 * attempt, redirects not followed, failures only logged.
 */
export class WebhookSender {
  readonly deliveries: Delivery[] = [];
  faults: DeliveryFaults = { dropRate: 0, duplicateRate: 0, delayMs: 0 };
  readonly #state: SandboxState;
  readonly #now: () => Date;
  readonly #random: () => number;
  #inFlight = new Set<Promise<void>>();

  constructor(state: SandboxState, now: () => Date, random: () => number = Math.random) {
    this.#state = state;
    this.#now = now;
    this.#random = random;
  }

  toPayloadBooking(b: SbBooking, extra: Partial<PayloadBooking> = {}): PayloadBooking {
    const host = this.#state.hosts.get(b.hostId)!;
    const et = this.#state.eventTypes.get(b.eventTypeId)!;
    const upper = b.status.toUpperCase() as PayloadBooking['status'];
    return {
      id: b.id,
      uid: b.uid,
      eventTypeId: et.id,
      eventTypeSlug: et.slug,
      eventTitle: et.title,
      title: `${et.title} between ${host.name} and ${b.attendee.name}`,
      lengthMinutes: et.lengthInMinutes,
      requiresConfirmation: et.requiresConfirmation,
      start: b.start,
      end: b.end,
      status: upper,
      organizer: host,
      attendee: b.attendee,
      location: b.location,
      metadata: b.metadata,
      createdAt: b.createdAt,
      ...(b.cancellationReason ? { cancellationReason: b.cancellationReason } : {}),
      ...(b.rejectionReason ? { rejectionReason: b.rejectionReason } : {}),
      ...(b.seats ? { attendees: b.seats.map((s) => s.attendee) } : {}),
      ...(et.seatsPerTimeSlot ? { seatsPerTimeSlot: et.seatsPerTimeSlot } : {}),
      ...(b.recurringEventId && et.recurringEvent ? { recurringEvent: et.recurringEvent } : {}),
      ...(et.schedulingType
        ? {
            schedulingType: et.schedulingType,
            team: { id: et.id * 100, name: `${et.title} team`, members: (b.coHostIds ?? []).map((h) => this.#state.hosts.get(h)!) },
          }
        : {}),
      ...extra,
    };
  }

  /** A BOOKING_* trigger for a booking; `viaConfirm` for the confirm path's smaller payload (§1.2). */
  booking(
    trigger: string,
    b: SbBooking,
    options: {
      viaConfirm?: boolean;
      reschedule?: PayloadBooking['reschedule'];
      /** A seat's cancel lists only its attendee, with the status CANCELLED while the booking stands. */
      attendees?: PayloadBooking['attendees'];
      status?: PayloadBooking['status'];
      /** Fields a trigger adds to the booking payload (BOOKING_REASSIGNED's host ids). */
      fields?: Record<string, unknown>;
    } = {},
  ): void {
    const pb = this.toPayloadBooking(b, {
      ...(options.reschedule ? { reschedule: options.reschedule } : {}),
      ...(options.attendees ? { attendees: options.attendees } : {}),
      ...(options.status ? { status: options.status } : {}),
    });
    this.#fanOut(
      trigger,
      b.uid,
      () =>
        envelopeBody(
          trigger,
          { ...bookingPayload(pb, trigger, { viaConfirm: options.viaConfirm ?? false }), ...options.fields },
          this.#now(),
        ),
      b.hostId,
    );
  }

  meeting(trigger: 'MEETING_STARTED' | 'MEETING_ENDED', b: SbBooking): void {
    const body = meetingBody(this.toPayloadBooking(b), trigger);
    this.#fanOut(trigger, b.uid, () => body, b.hostId);
  }

  /** Sends one body to a URL, signed; for `usher trigger`-style tests of a setup. */
  raw(trigger: string, uid: string | undefined, body: () => string): void {
    this.#fanOut(trigger, uid, body);
  }

  /** Waits until every delivery started so far has finished (tests, graceful stop). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** To every matching subscription that hears about `hostId`'s bookings (all of them when none is named). */
  #fanOut(trigger: string, uid: string | undefined, makeBody: () => string, hostId?: number): void {
    for (const webhook of this.#state.webhooksFor(hostId)) {
      if (!webhook.active || !webhook.triggers.includes(trigger)) continue;
      const copies = this.#random() < this.faults.duplicateRate ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        // createdAt is stamped per send, so copies differ in it (CONTRACT §2.1).
        const { body, contentType } = applyTemplate(webhook.payloadTemplate, makeBody());
        // The signature is over the exact body sent, after the template (CONTRACT §2.2).
        const signature = webhook.secret ? signBody(body, webhook.secret) : SIGNATURE_WITHOUT_SECRET;
        if (this.#random() < this.faults.dropRate) {
          this.deliveries.push({ trigger, uid, url: webhook.subscriberUrl, status: 'dropped', at: this.#now() });
          continue;
        }
        const delay = this.faults.delayMs > 0 ? this.#random() * this.faults.delayMs : 0;
        const p = this.#send(webhook.subscriberUrl, trigger, uid, { body, contentType, signature }, delay).finally(() =>
          this.#inFlight.delete(p),
        );
        this.#inFlight.add(p);
      }
    }
  }

  async #send(
    url: string,
    trigger: string,
    uid: string | undefined,
    { body, contentType, signature }: { body: string; contentType: string; signature: string },
    delayMs: number,
  ): Promise<void> {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': contentType, 'x-cal-signature-256': signature, 'x-cal-webhook-version': '2021-10-20' },
        body,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      await response.body.dump();
      this.deliveries.push({ trigger, uid, url, status: response.statusCode, at: this.#now() });
    } catch {
      this.deliveries.push({ trigger, uid, url, status: 'error', at: this.#now() });
    }
  }
}

/**
 * CONTRACT §2.5: a subscription's custom `payloadTemplate` (Handlebars) renders over the payload's
 * fields flattened with `triggerEvent` and `createdAt`; `&quot;` is turned back into `"`, Handlebars'
 * other escapes stay. A template that is JSON is sent as JSON, re-serialised — or as `false` when
 * what it rendered is not JSON; any other template goes as form data. MEETING_* bodies (no
 * envelope) are never templated. The sandbox renders `{{path.to.field}}` only (no helpers or blocks).
 */
export function applyTemplate(template: string | null, envelope: string): { body: string; contentType: string } {
  const json = { body: envelope, contentType: 'application/json' };
  if (!template) return json;
  const parsed = JSON.parse(envelope) as { triggerEvent?: string; createdAt?: string; payload?: Record<string, unknown> };
  if (!parsed.payload) return json;
  const context: Record<string, unknown> = { ...parsed.payload, triggerEvent: parsed.triggerEvent, createdAt: parsed.createdAt };
  const htmlEscape = (v: string) =>
    v.replace(
      /[&<>"'`=]/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' })[c]!,
    );
  const rendered = template
    .replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, path: string) => {
      const value = path
        .split('.')
        .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), context);
      if (value === undefined || value === null) return '';
      return htmlEscape(typeof value === 'object' ? '[object Object]' : String(value));
    })
    .replaceAll('&quot;', '"');
  try {
    JSON.parse(template);
  } catch {
    return { body: rendered, contentType: 'application/x-www-form-urlencoded' };
  }
  try {
    return { body: JSON.stringify(JSON.parse(rendered)), contentType: 'application/json' };
  } catch {
    return { body: 'false', contentType: 'application/json' };
  }
}
