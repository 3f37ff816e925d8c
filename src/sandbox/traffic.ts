import { request } from 'undici';

/**
 * Patients using the clinic's booking pages, through the sandbox's public API so that webhooks
 * flow exactly as in production: most book, some reschedule, some cancel. One action every
 * `everySeconds / speed` seconds of real time.
 */
export interface TrafficOptions {
  sandboxUrl: string;
  eventTypeIds: number[];
  speed: number;
  everySeconds?: number;
  random?: () => number;
  onAction?: (action: string, detail: string) => void;
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Radia', 'Tim', 'Sophie'];
const LAST = [
  'Lovelace',
  'Hopper',
  'Kay',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Perlman',
  'Berners-Lee',
  'Wilson',
];

export class TrafficGenerator {
  readonly #o: TrafficOptions;
  readonly #booked: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(options: TrafficOptions) {
    this.#o = options;
  }

  start(): void {
    const ms = Math.max(50, ((this.#o.everySeconds ?? 300) / this.#o.speed) * 1000);
    this.#timer = setInterval(() => void this.step(), ms);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async step(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const r = (this.#o.random ?? Math.random)();
      if (r < 0.15 && this.#booked.length > 0) await this.#cancel();
      else if (r < 0.3 && this.#booked.length > 0) await this.#reschedule();
      else await this.#book();
    } catch (error) {
      this.#o.onAction?.('error', (error as Error).message);
    } finally {
      this.#busy = false;
    }
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor((this.#o.random ?? Math.random)() * items.length)]!;
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown, version = '2024-08-13') {
    const response = await request(this.#o.sandboxUrl + path, {
      method,
      headers: { 'cal-api-version': version, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await response.body.json()) as { data?: unknown; error?: { message?: string } };
    return { status: response.statusCode, json };
  }

  /** A free start later today if there is one (the board shows today), else in the next three days. */
  async #freeSlot(eventTypeId: number): Promise<string | undefined> {
    for (const [fromMs, toMs] of [
      [30 * 60_000, 6 * 3_600_000],
      [3_600_000, 3 * 86_400_000],
    ] as const) {
      const from = new Date(Date.now() + fromMs).toISOString();
      const to = new Date(Date.now() + toMs).toISOString();
      const slots = await this.#call('GET', `/v2/slots?eventTypeId=${eventTypeId}&start=${from}&end=${to}`, undefined, '2024-09-04');
      const days = Object.values((slots.json.data ?? {}) as Record<string, { start: string }[]>).flat();
      if (days.length) return this.#pick(days).start;
    }
    return undefined;
  }

  async #book(): Promise<void> {
    const eventTypeId = this.#pick(this.#o.eventTypeIds);
    const start = await this.#freeSlot(eventTypeId);
    if (!start) return;
    const first = this.#pick(FIRST);
    const last = this.#pick(LAST);
    const res = await this.#call('POST', '/v2/bookings', {
      start,
      eventTypeId,
      attendee: { name: `${first} ${last}`, email: `${first}.${last}@example.com`.toLowerCase(), timeZone: 'Europe/London' },
    });
    const uid = (res.json.data as { uid?: string } | undefined)?.uid;
    if (uid) this.#booked.push(uid);
    this.#o.onAction?.('book', `${res.status} ${uid ?? res.json.error?.message}`);
  }

  async #reschedule(): Promise<void> {
    const uid = this.#booked.splice(Math.floor((this.#o.random ?? Math.random)() * this.#booked.length), 1)[0]!;
    const booking = await this.#call('GET', `/v2/bookings/${uid}`);
    const eventTypeId = (booking.json.data as { eventTypeId?: number } | undefined)?.eventTypeId;
    const start = eventTypeId ? await this.#freeSlot(eventTypeId) : undefined;
    if (!start) return;
    const res = await this.#call('POST', `/v2/bookings/${uid}/reschedule`, { start, reschedulingReason: 'Something came up' });
    const fresh = (res.json.data as { uid?: string } | undefined)?.uid;
    if (fresh) this.#booked.push(fresh);
    this.#o.onAction?.('reschedule', `${res.status} ${uid} → ${fresh ?? res.json.error?.message}`);
  }

  async #cancel(): Promise<void> {
    const uid = this.#booked.splice(Math.floor((this.#o.random ?? Math.random)() * this.#booked.length), 1)[0]!;
    const res = await this.#call('POST', `/v2/bookings/${uid}/cancel`, { cancellationReason: 'Feeling better' });
    this.#o.onAction?.('cancel', `${res.status} ${uid}`);
  }
}
